// The package ships no types; this is the one class we use from it.
declare module '@devicefarmer/adbkit-apkreader/lib/apkreader/parser/binaryxml.js' {
  export default class BinaryXmlParser {
    constructor(buffer: Buffer, options?: { debug?: boolean });
    parse(): unknown;
  }
}
