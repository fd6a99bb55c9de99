/** Images with more pixels than this are refused before decoding (decompression bombs), everywhere Loupe reads one. */
export const defaultPixelLimit = 100_000_000;
