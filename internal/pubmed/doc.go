// Package pubmed is a streaming parser for PubMed/MEDLINE baseline and update
// files (pubmedYYnNNNN.xml[.gz]) that turns each citation into a
// document.Document.
//
// Parse reads a PubmedArticleSet token by token with encoding/xml, keeping
// only the record being parsed in memory, so memory stays flat however large
// the file. Plain and gzip-compressed input are both accepted (gzip is
// detected by its magic bytes, not the file name). Three kinds of records are
// produced:
//
//   - PubmedArticle: ID = MedlineCitation/PMID, Version = its Version
//     attribute, Title = Article/ArticleTitle, Text = Article/Abstract.
//   - PubmedBookArticle: ID = BookDocument/PMID, Title = BookDocument/
//     ArticleTitle or, when absent, Book/BookTitle, Text = BookDocument/Abstract.
//   - DeleteCitation: one record per PMID, with Op = document.OpDelete.
//
// An abstract is its AbstractText sections joined by "\n"; a section with a
// Label attribute is written "LABEL:\n" + text, the convention of the GENIA /
// JNLPBA corpus the models are trained on (so a structured abstract reads as
// "BACKGROUND:\n...\nMETHODS:\n..."). Inline markup (<i>, <b>, <sup>, <sub>,
// <u>, MathML, ...) is flattened to its text, entities are decoded (the five
// XML ones, numeric references and HTML's named entities), newlines and tabs
// inside a section become spaces and each section is trimmed. Other elements
// (authors, MeSH, references, OtherAbstract, ...) are skipped.
//
// Every record gets an Index (its ordinal in the file, rejected ones
// included), the byte Offset of its start tag in the decompressed XML and its
// Line. A record that cannot become a valid document (no PMID, a bad Version,
// text over the size limit, ...) is written to the rejects sink and skipped;
// the rest of the file still flows. When the XML itself is broken mid-file,
// Parse skips to the next <PubmedArticle>, <PubmedBookArticle> or
// <DeleteCitation> start tag, reporting the broken record and the number of
// bytes lost; when no such tag follows, or the input cannot be read (a
// corrupt or truncated gzip stream), it reports and returns a *FileError with
// the bytes lost. Nothing is dropped silently.
package pubmed
