/**
 * Patch matrices of NHWC convolutions. The patch matrix has one row per output position (batch,
 * outRow, outCol) and one column per filter tap (filterRow, filterCol, inChannel), the layout of a
 * [filterHeight, filterWidth, inChannels, outChannels] filter read as a matrix. `col2im` adds such a
 * matrix back into an input-shaped gradient; `im2colT` writes the transposed matrix (one row per tap,
 * one column per output position) from the transposed input, in runs along output rows.
 */
import type * as Tf from '@tensorflow/tfjs';

/** The geometry of one NHWC convolution, from tfjs's own Conv2DInfo. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/** The geometry of a tfjs Conv2DInfo. */
export function geometry(info: Tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** Whether the patch matrix is the input itself (a 1x1 filter, stride 1, no padding). */
export function isPointwise(g: ConvGeometry): boolean {
  return (
    g.filterHeight === 1 &&
    g.filterWidth === 1 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.padTop === 0 &&
    g.padLeft === 0 &&
    g.outHeight === g.inHeight &&
    g.outWidth === g.inWidth
  );
}

/** How many images' patch matrices fit in `maxFloats` (at least one). */
export function imagesPerChunk(g: ConvGeometry, floatsPerPosition: number, maxFloats: number): number {
  const perImage = g.outHeight * g.outWidth * floatsPerPosition;
  return Math.max(1, Math.min(g.batch, Math.floor(maxFloats / Math.max(1, perImage))));
}

/** Adds the patch matrix `cols` of images [b0, b1) back into `dx` (the adjoint of im2col); `dx` must start zeroed. */
export function col2im(cols: Float32Array, g: ConvGeometry, b0: number, b1: number, dx: Float32Array): void {
  const { inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight, filterWidth } = g;
  const rowRun = filterWidth * c;
  const contiguous = g.dilationWidth === 1;
  let p = 0;
  for (let b = b0; b < b1; b++) {
    const xImage = b * inHeight * inWidth * c;
    for (let oh = 0; oh < outHeight; oh++) {
      const ih0 = oh * g.strideHeight - g.padTop;
      for (let ow = 0; ow < outWidth; ow++) {
        const iw0 = ow * g.strideWidth - g.padLeft;
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = ih0 + kh * g.dilationHeight;
          if (ih < 0 || ih >= inHeight) {
            p += rowRun;
            continue;
          }
          const xRow = xImage + ih * inWidth * c;
          if (contiguous && iw0 >= 0 && iw0 + filterWidth <= inWidth) {
            const dst = xRow + iw0 * c;
            for (let i = 0; i < rowRun; i++) dx[dst + i]! += cols[p + i]!;
            p += rowRun;
            continue;
          }
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = iw0 + kw * g.dilationWidth;
            if (iw >= 0 && iw < inWidth) {
              const dst = xRow + iw * c;
              for (let i = 0; i < c; i++) dx[dst + i]! += cols[p + i]!;
            }
            p += c;
          }
        }
      }
    }
  }
}

/**
 * Writes the transposed patch matrix of images [b0, b1) into `colsT` ([taps x inChannels, positions]),
 * reading `xT`, the input transposed to [inChannels, batch x inHeight x inWidth].
 */
export function im2colT(xT: Float32Array, g: ConvGeometry, b0: number, b1: number, colsT: Float32Array): void {
  const { inHeight, inWidth, inChannels, outHeight, outWidth, strideWidth: sw } = g;
  if (g.strideHeight === 1 && sw === 1 && g.dilationHeight === 1 && g.dilationWidth === 1 && outWidth === inWidth) {
    im2colTShifted(xT, g, b0, b1, colsT);
    return;
  }
  const n = (b1 - b0) * outHeight * outWidth;
  const imageSize = inHeight * inWidth;
  const channelRow = g.batch * imageSize;
  for (let kh = 0; kh < g.filterHeight; kh++) {
    for (let kw = 0; kw < g.filterWidth; kw++) {
      // Output columns whose input column lies inside the image, for this tap.
      const shift = kw * g.dilationWidth - g.padLeft;
      const owLo = Math.min(outWidth, Math.max(0, Math.ceil(-shift / sw)));
      const owHi = Math.max(owLo, Math.min(outWidth, Math.floor((inWidth - 1 - shift) / sw) + 1));
      for (let c = 0; c < inChannels; c++) {
        let p = ((kh * g.filterWidth + kw) * inChannels + c) * n;
        for (let b = b0; b < b1; b++) {
          const image = c * channelRow + b * imageSize;
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight;
            if (ih < 0 || ih >= inHeight) {
              colsT.fill(0, p, p + outWidth);
              p += outWidth;
              continue;
            }
            if (owLo > 0) colsT.fill(0, p, p + owLo);
            const src = image + ih * inWidth + shift;
            if (sw === 1) {
              for (let ow = owLo; ow < owHi; ow++) colsT[p + ow] = xT[src + ow]!;
            } else {
              for (let ow = owLo; ow < owHi; ow++) colsT[p + ow] = xT[src + ow * sw]!;
            }
            if (owHi < outWidth) colsT.fill(0, p + owHi, p + outWidth);
            p += outWidth;
          }
        }
      }
    }
  }
}

/**
 * im2colT at stride 1 when the output is as wide as the input ('same' padding): the row of a tap
 * over one image is the image itself shifted by (kh - padTop) rows and (kw - padLeft) columns, so
 * one block copy (`set`) per image, then zeros where the shift left the image: whole rows above or
 * below, and the columns that wrapped around from the neighbouring row.
 */
function im2colTShifted(xT: Float32Array, g: ConvGeometry, b0: number, b1: number, colsT: Float32Array): void {
  const { inHeight, inWidth: w, inChannels, outHeight } = g;
  const block = outHeight * w;
  const n = (b1 - b0) * block;
  const imageSize = inHeight * w;
  const channelRow = g.batch * imageSize;
  for (let kh = 0; kh < g.filterHeight; kh++) {
    const dh = kh - g.padTop;
    // Output rows whose input row lies inside the image.
    const ohLo = Math.min(outHeight, Math.max(0, -dh));
    const ohHi = Math.max(ohLo, Math.min(outHeight, inHeight - dh));
    for (let kw = 0; kw < g.filterWidth; kw++) {
      const dw = kw - g.padLeft;
      const shift = dh * w + dw;
      // Positions q of the valid rows whose source q + shift lies inside the image (the rest are border columns).
      const qLo = Math.max(ohLo * w, -shift);
      const qHi = Math.max(qLo, Math.min(ohHi * w, imageSize - shift));
      // Columns that wrap: ow >= w - dw for dw > 0, ow < -dw for dw < 0.
      const colLo = dw > 0 ? Math.max(0, w - dw) : 0;
      const colHi = dw > 0 ? w : Math.min(w, -dw);
      for (let c = 0; c < inChannels; c++) {
        let p = ((kh * g.filterWidth + kw) * inChannels + c) * n;
        for (let b = b0; b < b1; b++) {
          const image = c * channelRow + b * imageSize;
          if (qLo > 0) colsT.fill(0, p, p + qLo);
          if (qHi > qLo) colsT.set(xT.subarray(image + qLo + shift, image + qHi + shift), p + qLo);
          if (qHi < block) colsT.fill(0, p + qHi, p + block);
          if (colHi > colLo) {
            for (let oh = ohLo; oh < ohHi; oh++) {
              const row = p + oh * w;
              for (let ow = colLo; ow < colHi; ow++) colsT[row + ow] = 0;
            }
          }
          p += block;
        }
      }
    }
  }
}
