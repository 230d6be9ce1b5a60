// `dsconv/files`: Node-only helpers for TF.js models and images on disk (they read files with
// node:fs, so they live apart from `dsconv/tfjs`, which also runs in browsers).
export { fileIO, readModelJson, modelFormat, type FileIOHandler, type ModelArtifacts } from './loader.js';
export { readImage, decodeImage, listImages, cropSquare, resize, psnr, type Image } from './images.js';
