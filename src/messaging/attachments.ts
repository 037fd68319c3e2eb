import sharp from 'sharp';
import { fileTypeFromBuffer } from 'file-type';
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

/** PDFs with active content (JavaScript, launch actions, embedded files) are refused: a lab result needs none. */
function checkPdf(f: IncomingFile): Buffer {
  const text = f.data.toString('latin1');
  if (!/%%EOF\s*$/.test(text.slice(-1024))) throw new AppError('PAYLOAD_REJECTED', `${label(f)} is an incomplete PDF (no end-of-file marker)`);
  const active = /\/(JavaScript|JS|Launch|EmbeddedFile|OpenAction\s*<<[^>]*\/S\s*\/JavaScript)\b/.exec(text);
  if (active) throw new AppError('PAYLOAD_REJECTED', `${label(f)} contains active content (/${active[1]}); save it as a plain PDF and try again`);
  return f.data;
}
