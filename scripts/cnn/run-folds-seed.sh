#!/bin/sh
# Replicate of run-folds.sh with another training seed (default 2): same recipe, outputs cnn-oof-foldF-seedS.csv.
C=${CACHE:-/work/cnn-cache}; S=${SEED:-2}
cd "$(dirname "$0")/../.."
(for f in 0 2 4; do nice -n 19 /usr/bin/python3 scripts/cnn/train_cnn.py --fold $f --epochs 20 --threads 1 --seed $S --cache $C > $C/cnn-fold$f-seed$S.log 2>&1; done) &
(for f in 1 3; do nice -n 19 /usr/bin/python3 scripts/cnn/train_cnn.py --fold $f --epochs 20 --threads 1 --seed $S --cache $C > $C/cnn-fold$f-seed$S.log 2>&1; done) &
wait
