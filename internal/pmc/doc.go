// Package pmc reads PubMed Central Open Access full text as documents with
// passages: JATS XML (<article>, or many in <pmc-articleset>) and BioC XML
// (<collection>, the format of PMC's BioC service), plain or gzipped; the
// root element decides which.
//
// JATS: the id is "PMC" + the pmc article-id (else the pmid); the title is
// the article-title; the text is the abstract's paragraphs, then the body's
// section titles and paragraphs, one passage each, joined by "\n". Inline
// markup (<italic>, <bold>, <sup>, <xref>, <named-content>…) keeps its text.
// Skipped by rule, with all they contain: figures (<fig>, <fig-group>),
// tables (<table-wrap>, <table>), references (<ref-list>, <back>), formulas
// (<disp-formula>, <inline-formula>, MathML), <supplementary-material>,
// <graphic>, <media> and <floats-group>.
//
// BioC: each <document> becomes one document; its passages are kept in
// order (their texts joined by "\n", offsets recomputed in code points)
// except those whose section_type or type infon marks a reference, figure,
// table or supplementary material.
//
// Passage types: "title" (the article title), "abstract", "section_title"
// (a section heading), and for body paragraphs the title of their innermost
// section ("paragraph" when it has none). BioC passages take their
// section_type (lower case) or type infon.
package pmc
