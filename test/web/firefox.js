// `npm run test:firefox`: browser.test.js in Firefox instead of Chromium. Its name keeps it out of
// `npm test` (*.test.js), which must need nothing but Node and npm; Firefox comes from apt-get.
process.env.DSCONV_TEST_BROWSER = 'firefox';
await import('./browser.test.js');
