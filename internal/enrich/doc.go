// Package enrich adds document-level information to the model's chunks:
// abbreviation resolution (internal/abbrev: a short form gets its long form
// and the long form's type), gene/protein normalisation (a [Linker], e.g.
// internal/genes) and the passage each chunk lies in. It turns chunks into
// the rows, JSON lines and BioC/PubTator documents of every command, so all
// of them carry the same information.
package enrich
