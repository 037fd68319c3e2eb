#!/bin/sh
# Outer folds of the CNN in two 1-thread workers at nice 19 (2-core machine): A runs folds 0 2 4, B runs 1 3.
C=${CACHE:-/work/cnn-cache}
cd "$(dirname "$0")/../.."
(for f in 0 2 4; do nice -n 19 /usr/bin/python3 scripts/cnn/train_cnn.py --fold $f --epochs 20 --threads 1 --cache $C > $C/cnn-fold$f.log 2>&1; done) &
(for f in 1 3; do nice -n 19 /usr/bin/python3 scripts/cnn/train_cnn.py --fold $f --epochs 20 --threads 1 --cache $C > $C/cnn-fold$f.log 2>&1; done) &
wait
