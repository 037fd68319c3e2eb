import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { deflateSync } from 'node:zlib';
import { cleanAttachment, MAX_ATTACHMENT_BYTES } from './attachments.ts';
import { jpegWithGps, TINY_PDF } from './test-fixtures.ts';

describe('attachment intake', () => {
  it('re-encodes a photo without its EXIF/GPS and makes a thumbnail', async () => {
    const original = await jpegWithGps();
    expect((await sharp(original).metadata()).exif).toBeDefined();
    expect(original.includes(Buffer.from('PhoneMaker'))).toBe(true);
    const clean = await cleanAttachment({ name: 'ankle.jpg', contentType: 'image/jpeg', data: original });
    expect(clean.contentType).toBe('image/jpeg');
    const meta = await sharp(clean.data).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(clean.data.includes(Buffer.from('PhoneMaker'))).toBe(false);
    expect([clean.width, clean.height]).toEqual([800, 600]);
    const thumb = await sharp(clean.thumbnail!).metadata();
    expect(Math.max(thumb.width!, thumb.height!)).toBe(320);
  });

  it('shrinks a huge photo to 2048 px on its long edge', async () => {
    const big = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#336699' } })
      .jpeg({ quality: 50 })
      .toBuffer();
    const clean = await cleanAttachment({ name: 'big.jpg', data: big });
    expect([clean.width, clean.height]).toEqual([2048, 1536]);
  });

  it('refuses a file that claims to be a JPEG but is not, naming the problem', async () => {
    await expect(
      cleanAttachment({ name: 'wound.jpg', contentType: 'image/jpeg', data: Buffer.from('MZ\x90\x00 this is really an executable'.repeat(10)) }),
    ).rejects.toThrow(/"wound\.jpg" claims to be image\/jpeg but its content is application\/x-msdownload/);
    await expect(cleanAttachment({ name: 'wound.jpg', contentType: 'image/jpeg', data: Buffer.from('just some text, not a picture') })).rejects.toMatchObject({
      status: 422,
      message: expect.stringMatching(/claims to be image\/jpeg but its content is not a recognised file type/),
    });
    // the name alone is a claim too
    await expect(cleanAttachment({ name: 'wound.jpg', data: TINY_PDF })).rejects.toThrow(/claims to be image\/jpeg but its content is application\/pdf/);
  });

  it('refuses types other than photos and PDF, empty and oversized files, and broken images', async () => {
    const zip = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(100)]);
    await expect(cleanAttachment({ name: 'a.zip', data: zip })).rejects.toThrow(/only a photo/);
    await expect(cleanAttachment({ name: 'e.jpg', data: Buffer.alloc(0) })).rejects.toThrow(/empty/);
    await expect(cleanAttachment({ name: 'h.pdf', data: Buffer.alloc(MAX_ATTACHMENT_BYTES + 1) })).rejects.toMatchObject({
      status: 422,
      message: expect.stringMatching(/limit is 5 MB/),
    });
    const truncated = (await jpegWithGps()).subarray(0, 200);
    await expect(cleanAttachment({ name: 't.jpg', data: truncated })).rejects.toMatchObject({ status: 422 });
  });

  it('keeps a plain PDF as sent and refuses one with JavaScript', async () => {
    const clean = await cleanAttachment({ name: 'labs.pdf', contentType: 'application/pdf', data: TINY_PDF });
    expect(clean.data.equals(TINY_PDF)).toBe(true);
    expect(clean.thumbnail).toBeNull();
    const js = Buffer.from(TINY_PDF.toString('latin1').replace('/Type/Catalog', '/Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>'), 'latin1');
    await expect(cleanAttachment({ name: 'x.pdf', data: js })).rejects.toThrow(/active content/);
  });

  it('refuses active content however it is written: escaped names, actions on events, inside a compressed object stream', async () => {
    const withCatalog = (extra: string) => Buffer.from(TINY_PDF.toString('latin1').replace('/Type/Catalog', `/Type/Catalog${extra}`), 'latin1');
    // Found by review: /J#61vaScript is /JavaScript to a reader, and passed a plain text match.
    for (const [extra, name] of [
      ['/OpenAction<</S/J#61vaScript/J#53(app.alert(1))>>', 'JavaScript'],
      ['/OpenAction<</S/L#61unch/F(cmd.exe)>>', 'Launch'],
      ['/AA<</O<</S/URI/URI(https://example.org)>>>>', 'AA'],
    ])
      await expect(cleanAttachment({ name: 'x.pdf', data: withCatalog(extra) })).rejects.toThrow(`active content (/${name})`);
    // The action dictionary compressed in a stream (as in a PDF 1.5 object stream).
    const hidden = deflateSync(Buffer.from('<</S/JavaScript/JS(app.alert(1))>>', 'latin1'));
    const stream = Buffer.concat([
      Buffer.from(TINY_PDF.toString('latin1').replace(/%%EOF\s*$/, ''), 'latin1'),
      Buffer.from(`9 0 obj<</Type/ObjStm/Filter/FlateDecode/Length ${hidden.length}>>stream\n`, 'latin1'),
      hidden,
      Buffer.from('\nendstream endobj\n%%EOF\n', 'latin1'),
    ]);
    await expect(cleanAttachment({ name: 'x.pdf', data: stream })).rejects.toThrow('active content (/JavaScript)');
    // Every stream is read, not only the first (an `endstream` line once hid the next one from the scan).
    const obj = (n: number, dict: string, body: Buffer) =>
      Buffer.concat([Buffer.from(`${n} 0 obj<<${dict}/Length ${body.length}>>stream\n`, 'latin1'), body, Buffer.from('\nendstream\nendobj\n', 'latin1')]);
    const pdfWith = (...objs: Buffer[]) =>
      Buffer.concat([Buffer.from(TINY_PDF.toString('latin1').replace(/%%EOF\s*$/, ''), 'latin1'), ...objs, Buffer.from('%%EOF\n', 'latin1')]);
    const plainStream = obj(10, '/Filter/FlateDecode', deflateSync(Buffer.from('BT /F1 12 Tf (Potassium 4.1) Tj ET')));
    const second = pdfWith(plainStream, obj(11, '/Type/ObjStm/Filter/FlateDecode', hidden));
    await expect(cleanAttachment({ name: 'x.pdf', data: second })).rejects.toThrow('active content (/JavaScript)');
    // A filter the server does not decode, or one that decodes to more than it reads, is refused, not skipped.
    const hex = pdfWith(obj(12, '/Type/ObjStm/Filter/ASCIIHexDecode', Buffer.from(Buffer.from('<</S/JavaScript>>').toString('hex') + '>')));
    await expect(cleanAttachment({ name: 'x.pdf', data: hex })).rejects.toThrow(/a stream this server cannot check \(filter ASCIIHexDecode\)/);
    // A picture's data is not read as PDF text: random bytes that happen to spell /AA do not refuse a scan.
    const picture = pdfWith(obj(13, '/Type/XObject/Subtype/Image/Width 4/Height 4/Filter/FlateDecode', deflateSync(Buffer.from('xx/AAyy/JSzz'))));
    expect((await cleanAttachment({ name: 'scan.pdf', data: picture })).data.equals(picture)).toBe(true);
    // A plain link stays allowed (it acts only when clicked).
    const link = withCatalog('/Names<</Dests 3 0 R>>/URI<</Base(https://example.org/)>>');
    expect((await cleanAttachment({ name: 'labs.pdf', data: link })).data.equals(link)).toBe(true);
  });
});
