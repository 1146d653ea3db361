// Package genes links gene and protein mentions to human NCBI Gene ids.
//
// The dictionary is built at setup time (scripts/setup.sh, scripts/genedict)
// from the SQLite file of Bioconductor's org.Hs.eg.db (Debian package
// r-bioc-org.hs.eg.db, Artistic-2.0): every official symbol, alias and full
// name is normalised with [Normalize] and written, sorted, as one line per
// (key, gene). [Load] reads the file into one byte slice plus a line index
// (memory ≈ file size, about 10 MB, no per-entry allocation) and [Dict.Link]
// binary-searches it.
//
// Normalisation rules (the field's usual ones): case folded; Greek letters
// spelled out (α → alpha); hyphens, spaces and punctuation removed
// ("IL-2" = "IL2" = "il 2"); a trailing "protein(s)", "gene(s)" or "mRNA"
// and a leading "human" dropped; when nothing matches, a trailing spelled-out
// Greek letter is tried as its Latin initial ("IL-1 beta" → "IL1B").
// Matches are ranked symbol > alias > full name; a mention whose best rank
// matches more than one gene is ambiguous and left unlinked.
package genes
