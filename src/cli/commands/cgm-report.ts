import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CliError, writeJson, type CliCommand, type CliIo } from '../command.ts';
import { writePrivateFile } from '../runtime.ts';
import { buildAgpReport, CgmCsvError, parseCgmCsv, renderAgpReportHtml, TARGET_SETS, type TargetSetId } from '../../analysis/cgm/index.ts';

const HELP = `Usage: vigil cgm report CSV [--html FILE] [--targets SET] [--interval MIN] [--patient NAME] [--utc-offset MIN]

Consensus CGM metrics (Battelino et al., Diabetes Care 2019) from a CSV of timestamp,glucose_mg_dl rows
(header optional; a "glucose_mmol_l" header column is converted × 18; CSV "-" reads stdin).
Prints JSON: {"days","activePercent","mean","gmi","cv","tbr54","tbr70","tir","tar180","tar250", ...}
(percentages 0–100, shares of readings; mean in mg/dL; GMI and CV in %).
  --html FILE      also write the one-page AGP report (self-contained HTML, readable only by its owner)
  --targets SET    standard (default) | older-high-risk | pregnancy
  --interval MIN   device reading interval, default 5 (sets expected readings for activePercent)
  --patient NAME   name printed on the HTML report
  --utc-offset MIN local offset for time of day (default: from the timestamps, else 0)`;

const r2 = (v: number) => Math.round(v * 100) / 100;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  return text;
}

function numberFlag(value: string | boolean | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`--${name}: must be a number from ${min} to ${max}`);
  return n;
}

const command: CliCommand = {
  name: 'cgm report',
  summary: 'consensus CGM metrics from a CSV; --html writes the AGP report',
  help: HELP,
  async run(args, io: CliIo) {
    const file = args.positionals[0];
    if (!file) throw new CliError('missing CSV file (use "-" for stdin)');
    const targetSet = (args.flags.targets ?? 'standard') as TargetSetId;
    if (!(targetSet in TARGET_SETS)) throw new CliError(`--targets: must be one of ${Object.keys(TARGET_SETS).join(', ')}`);
    const intervalMin = numberFlag(args.flags.interval, 'interval', 1, 60);
    const offsetFlag = numberFlag(args.flags['utc-offset'], 'utc-offset', -720, 840);
    const html = args.flags.html;
    if (html === true) throw new CliError('--html: needs an output file name');

    let text: string;
    try {
      text = file === '-' ? await readAll(io.stdin) : await readFile(file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let parsed;
    try {
      parsed = parseCgmCsv(text);
    } catch (err) {
      if (err instanceof CgmCsvError) throw new CliError(`${file}: ${err.message}`);
      throw err;
    }
    const utcOffsetMinutes = offsetFlag ?? parsed.utcOffsetMinutes;
    const report = buildAgpReport(parsed.readings, { intervalMin, targetSet, utcOffsetMinutes });
    if (!report) throw new CliError(`${file}: no readings`);
    const m = report.metrics;

    if (typeof html === 'string') {
      const page = renderAgpReportHtml(report, {
        generatedAt: Date.now(),
        patientName: typeof args.flags.patient === 'string' ? args.flags.patient : undefined,
        source: file === '-' ? undefined : path.basename(file),
      });
      await writePrivateFile(html, page, '--html'); // the report names the patient and shows their glucose
    }

    writeJson(io, {
      days: r2(m.days),
      activePercent: r2(m.activePercent),
      mean: r2(m.mean),
      gmi: r2(m.gmi),
      cv: r2(m.cv),
      tbr54: r2(m.tbr54),
      tbr70: r2(m.tbr70),
      tir: r2(m.tir),
      tar180: r2(m.tar180),
      tar250: r2(m.tar250),
      readings: m.readings,
      sufficient: m.sufficient,
      start: new Date(m.start).toISOString(),
      end: new Date(m.end).toISOString(),
      sd: r2(m.sd),
      unit: parsed.unit,
      targets: {
        set: report.targets.set,
        pass: report.targets.pass,
        results: report.targets.results.map((t) => ({ metric: t.metric, target: `${t.op}${t.value}`, actual: r2(t.actual), pass: t.pass })),
      },
      events: Object.fromEntries(
        (['hypo-level2', 'hypo-level1', 'hyper-level1', 'hyper-level2'] as const).map((k) => [k, report.events.filter((e) => e.kind === k).length]),
      ),
    });
    return 0;
  },
};
export default command;
