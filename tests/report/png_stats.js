// png_stats.js FILE.png: prints "width height nonwhite_fraction distinct_colors"
// of an 8-bit RGB or RGBA PNG (what a headless browser's screenshot is), so a
// test can tell a rendered page from a blank one.  Node's own zlib, no packages.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const buf = fs.readFileSync(process.argv[2]);
if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
let off = 8, w = 0, h = 0, depth = 0, ctype = 0;
const idat = [];
while (off < buf.length) {
  const len = buf.readUInt32BE(off), type = buf.toString('ascii', off + 4, off + 8);
  const data = buf.subarray(off + 8, off + 8 + len);
  if (type === 'IHDR') { w = data.readUInt32BE(0); h = data.readUInt32BE(4); depth = data[8]; ctype = data[9]; }
  if (type === 'IDAT') idat.push(data);
  off += 12 + len;
}
if (depth !== 8 || (ctype !== 2 && ctype !== 6)) throw new Error(`unsupported PNG: depth ${depth}, color type ${ctype}`);
const bpp = ctype === 6 ? 4 : 3, stride = w * bpp;
const raw = zlib.inflateSync(Buffer.concat(idat));
const px = Buffer.alloc(stride * h);
for (let y = 0; y < h; y++) {
  const f = raw[y * (stride + 1)], src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
  const row = px.subarray(y * stride, (y + 1) * stride), up = y ? px.subarray((y - 1) * stride, y * stride) : null;
  for (let i = 0; i < stride; i++) {
    const a = i >= bpp ? row[i - bpp] : 0, b = up ? up[i] : 0, c = up && i >= bpp ? up[i - bpp] : 0;
    let v = src[i];
    if (f === 1) v += a;
    else if (f === 2) v += b;
    else if (f === 3) v += (a + b) >> 1;
    else if (f === 4) { const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
    row[i] = v & 255;
  }
}
let nonwhite = 0;
const colors = new Set();
for (let i = 0; i < px.length; i += bpp) {
  const r = px[i], g = px[i + 1], b = px[i + 2];
  if (r < 245 || g < 245 || b < 245) nonwhite++;
  if (colors.size < 100000) colors.add((r << 16) | (g << 8) | b);
}
console.log(`${w} ${h} ${(nonwhite / (w * h)).toFixed(4)} ${colors.size}`);
