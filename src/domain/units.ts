import { createRequire } from 'node:module';

/**
 * Unit conversion by UCUM (unitsofmeasure.org), with the NLM's reference implementation, @lhncbc/ucum-lhc: any unit
 * commensurable with a code's canonical unit converts ([lb_av], [oz_av], [stone_av], g → kg; [degF], K → Cel;
 * kPa → mm[Hg]; mmol/L → mg/dL through the substance's molar mass; /s, /h → /min), not only the units of a table.
 *
 * UCUM conversions are affine (value × scale + offset; only temperatures have an offset), so each (code, unit) pair
 * is asked of the library once, converting 0 and 1, and applied with arithmetic afterwards: the ingest path converts
 * a reading in nanoseconds, and the library (a megabyte of definitions) loads only when the first unit outside
 * the canonical ones arrives.
 */
export interface Conversion {
  scale: number;
  offset: number;
}

interface UcumUtils {
  convertUnitTo(from: string, value: number, to: string, options?: { molecularWeight?: number }): { status: string; toVal: number | null };
}
let ucum: UcumUtils | undefined;
const library = (): UcumUtils => {
  ucum ??= (createRequire(import.meta.url)('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } }).UcumLhcUtils.getInstance();
  return ucum;
};

/**
 * Loads the library (100–300 ms of synchronous work) before the first reading in another unit needs it; the server
 * calls it once it listens, so no device's first converted reading holds the event loop up (found by review).
 */
export function preloadUnits(): void {
  library();
}

/** Unit text longer than any real unit is not parsed (it comes from devices and files: untrusted). */
const MAX_UNIT_LENGTH = 40;

function convert(from: string, value: number, to: string, molarMass?: number): number | null {
  // The library prints what it could not parse with console.log: the untrusted unit text would land in the app's
  // JSON log stream, one forged line per newline (found by review). Silenced for the (synchronous) call.
  const print = console.log;
  console.log = () => {};
  try {
    const r = library().convertUnitTo(from, value, to, molarMass ? { molecularWeight: molarMass } : {});
    return r.status === 'succeeded' && typeof r.toVal === 'number' && Number.isFinite(r.toVal) ? r.toVal : null;
  } catch {
    return null; // the library throws on some text (e.g. "constructor", found by this module's tests): not a unit
  } finally {
    console.log = print;
  }
}

/**
 * Whether a canonical unit is a pure number (%, {steps}): UCUM converts any dimensionless unit into any other (% into
 * steps, ×0.01), which for these codes is a wrong reading, not a conversion. They accept only their own unit.
 */
const dimensionless = new Map<string, boolean>();
const isDimensionless = (unit: string) => {
  let d = dimensionless.get(unit);
  if (d === undefined) dimensionless.set(unit, (d = convert(unit, 1, '1') !== null));
  return d;
};

/** The affine map from `unit` to `canonical` per UCUM, or null when UCUM cannot convert between them. */
export function ucumConversion(unit: string, canonical: string, molarMass?: number): Conversion | null {
  if (unit.length === 0 || unit.length > MAX_UNIT_LENGTH || isDimensionless(canonical)) return null;
  const offset = convert(unit, 0, canonical, molarMass);
  const one = convert(unit, 1, canonical, molarMass);
  return offset === null || one === null || one === offset ? null : { scale: one - offset, offset };
}
