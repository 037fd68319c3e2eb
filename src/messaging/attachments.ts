import sharp from 'sharp';
import { fileTypeFromBuffer } from 'file-type';
import { inflateSync } from 'node:zlib';
import { AppError } from '../platform/errors.ts';

/**
 * Attachment intake: the type is decided by the bytes (file-type), never by the name or the claimed type;
 * images are decoded and re-encoded by sharp, which drops every metadata block (EXIF with GPS, XMP, IPTC)
 * after applying the EXIF orientation, and get a thumbnail; PDFs are kept as sent once checked.
 */

export const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;
export const MAX_ATTACHMENTS = 4;
const MAX_IMAGE_EDGE = 2048; // enough for a wound photo; keeps files small for phones
const THUMB_EDGE = 320;
const MAX_INPUT_PIXELS = 50_000_000; // refuses decompression bombs

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);
const ALLOWED = 'a photo (JPEG, PNG, WebP, GIF) or a PDF';

export interface IncomingFile {
  /** The file name as the user's device gave it (shown as the title; never trusted for the type). */
  name?: string;
  /** What the client says it is; checked against the content. */
  contentType?: string;
  data: Buffer;
}

export interface CleanFile {
  contentType: string;
  title: string | null;
  data: Buffer;
  thumbnail: Buffer | null;
  width: number | null;
  height: number | null;
}

const EXT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  pdf: 'application/pdf',
};

function label(f: IncomingFile): string {
  return f.name ? `"${f.name.slice(0, 80)}"` : 'the attachment';
}

export async function cleanAttachment(f: IncomingFile): Promise<CleanFile> {
  if (f.data.length === 0) throw new AppError('VALIDATION', `${label(f)} is empty`);
  if (f.data.length > MAX_ATTACHMENT_BYTES)
    throw new AppError('PAYLOAD_REJECTED', `${label(f)} is ${(f.data.length / 1048576).toFixed(1)} MB; the limit is ${MAX_ATTACHMENT_BYTES / 1048576} MB`);
  const detected = await fileTypeFromBuffer(f.data);
  const claimed = f.contentType?.split(';')[0].trim().toLowerCase() || (f.name ? EXT_TYPES[f.name.split('.').pop()!.toLowerCase()] : undefined);
  const actual = detected?.mime;
  if (claimed && claimed !== actual && !(claimed === 'image/jpg' && actual === 'image/jpeg')) {
    throw new AppError(
      'PAYLOAD_REJECTED',
      `${label(f)} claims to be ${claimed} but its content is ${actual ? actual : 'not a recognised file type'}; send ${ALLOWED}`,
    );
  }
  if (!actual || (!IMAGE_TYPES.has(actual) && actual !== 'application/pdf')) {
    throw new AppError('PAYLOAD_REJECTED', `${label(f)} is ${actual ?? 'not a recognised file type'}; only ${ALLOWED} can be attached`);
  }
  const title = f.name ? f.name.replace(/[\u0000-\u001f\\/]/g, '_').slice(0, 200) : null;
  if (actual === 'application/pdf') return { contentType: actual, title, data: checkPdf(f), thumbnail: null, width: null, height: null };
  return { ...(await reencodeImage(f, actual)), title };
}

/** Re-encodes: sharp writes no metadata unless asked (withMetadata), so EXIF/GPS/XMP are gone. */
async function reencodeImage(f: IncomingFile, mime: string): Promise<Omit<CleanFile, 'title'>> {
  try {
    const input = sharp(f.data, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' }).rotate();
    const keepPng = mime === 'image/png' || mime === 'image/gif';
    const resized = input.resize({ width: MAX_IMAGE_EDGE, height: MAX_IMAGE_EDGE, fit: 'inside', withoutEnlargement: true });
    const { data, info } = await (keepPng ? resized.png({ compressionLevel: 8 }) : resized.jpeg({ quality: 85, mozjpeg: true })).toBuffer({
      resolveWithObject: true,
    });
    const thumbnail = await sharp(data)
      .resize({ width: THUMB_EDGE, height: THUMB_EDGE, fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 75 })
      .toBuffer();
    return { contentType: keepPng ? 'image/png' : 'image/jpeg', data, thumbnail, width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('PAYLOAD_REJECTED', `${label(f)} looks like ${mime} but cannot be decoded (${(err as Error).message.split('\n')[0].slice(0, 120)})`);
  }
}

/**
 * PDF names that make a document act rather than show: scripts (/JavaScript, /JS, XFA forms, /RichMedia),
 * actions that run or fetch something (/Launch, /SubmitForm, /ImportData, /GoToE, /AA: actions on open, close,
 * page view or form events), and attached files (/EmbeddedFile). A lab result or a letter needs none of them.
 * Plain links (/URI) are allowed: they act only when the reader clicks them.
 */
const ACTIVE_NAMES = /\/(JavaScript|JS|Launch|EmbeddedFile|AA|RichMedia|XFA|SubmitForm|ImportData|GoToE)(?![A-Za-z0-9])/;
/** Decompressed stream content read at most; a PDF whose streams need more to check is refused, not waved through. */
const MAX_INFLATED_BYTES = 32 * 1024 * 1024;
/** Filters of pictures: their data cannot hold a PDF object, so it is not read (random bytes look like names). */
const IMAGE_FILTERS = new Set(['DCTDecode', 'JPXDecode', 'CCITTFaxDecode', 'JBIG2Decode']);

/**
 * Names as a reader sees them: `#xx` escapes decoded (PDF 1.7 §7.3.5; `/J#61vaScript` is /JavaScript, the way
 * past a plain text match found by review).
 */
const decodeNames = (text: string) =>
  text.replace(/\/[^\s/<>[\]()%{}]+/g, (name) =>
    name.includes('#') ? name.replace(/#([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))) : name,
  );

/**
 * The PDF as text to check: everything outside streams, and the content of every stream that is not a picture,
 * decoded (object streams hold dictionaries since PDF 1.5, so an action can hide in one). Only FlateDecode (the
 * filter PDF writers use) is decoded; a non-picture stream with any other filter or a predictor, or more than
 * MAX_INFLATED_BYTES in all, is a reason to refuse (what cannot be read cannot be checked).
 */
function pdfText(f: IncomingFile): string {
  const data = f.data;
  const text = data.toString('latin1');
  const parts: string[] = [];
  let budget = MAX_INFLATED_BYTES;
  let at = 0;
  const re = /(?<!end)stream\r?\n/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const start = m.index + m[0].length;
    const end = text.indexOf('endstream', start);
    if (end < 0) break;
    const dictStart = text.lastIndexOf('obj', m.index);
    const dict = decodeNames(text.slice(dictStart < at ? at : dictStart, m.index));
    parts.push(text.slice(at, m.index));
    at = end + 'endstream'.length;
    re.lastIndex = at;
    const filters = [...(/\/Filter\s*(\[[^\]]*\]|\/[A-Za-z0-9]+)/.exec(dict)?.[1] ?? '').matchAll(/\/([A-Za-z0-9]+)/g)].map((x) => x[1]);
    if (/\/Subtype\s*\/Image\b/.test(dict) || (filters.length === 1 && IMAGE_FILTERS.has(filters[0]))) continue;
    if (filters.length === 0) {
      parts.push(text.slice(start, end));
      continue;
    }
    const predictor = Number(/\/Predictor\s*(\d+)/.exec(dict)?.[1] ?? 1);
    if (filters.length > 1 || filters[0] !== 'FlateDecode' || predictor > 1)
      throw new AppError(
        'PAYLOAD_REJECTED',
        `${label(f)} has a stream this server cannot check (filter ${filters.join(' + ')}); save it as a plain PDF and try again`,
      );
    let inflated: Buffer;
    try {
      inflated = inflateSync(data.subarray(start, end), { maxOutputLength: budget });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
        throw new AppError('PAYLOAD_REJECTED', `${label(f)} has more compressed content than this server checks; save it as a smaller plain PDF`);
      throw new AppError('PAYLOAD_REJECTED', `${label(f)} has a damaged compressed stream`);
    }
    budget -= inflated.length;
    parts.push(inflated.toString('latin1'));
  }
  parts.push(text.slice(at));
  return decodeNames(parts.join('\n'));
}

/** PDFs with active content are refused, also when the name is escaped or sits in a compressed object stream. */
function checkPdf(f: IncomingFile): Buffer {
  const text = f.data.toString('latin1');
  if (!/%%EOF\s*$/.test(text.slice(-1024))) throw new AppError('PAYLOAD_REJECTED', `${label(f)} is an incomplete PDF (no end-of-file marker)`);
  const active = ACTIVE_NAMES.exec(pdfText(f));
  if (active) throw new AppError('PAYLOAD_REJECTED', `${label(f)} contains active content (/${active[1]}); save it as a plain PDF and try again`);
  return f.data;
}
