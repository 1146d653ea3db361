// Package formats writes annotated documents in the interchange formats of
// biomedical text mining: PubTator (tab-separated) and BioC (XML and JSON;
// Comeau et al. 2013, collection → document → passage → annotation with
// location offset/length).
//
// Writers stream: each [Writer.Write] emits one document and keeps nothing,
// so memory is bounded by the largest document. Offsets are Unicode code
// points into the document text (title + "\n" + abstract for MEDLINE,
// which has the same length as PubTator's title + " " + abstract), as
// everywhere in nerstream; BioC output says so in its key and infons.
package formats
