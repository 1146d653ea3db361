package main

import (
	"flag"

	"github.com/nerstream/nerstream/internal/document"
)

// docLimitFlag registers --max-doc-bytes for commands that read documents
// from files (annotate, eval), with worker run's default.
func docLimitFlag(fs *flag.FlagSet) *int {
	return fs.Int("max-doc-bytes", document.DefaultMaxDocBytes, "largest document (title+text) in bytes; a larger one is refused at once with its name (worker run's limit; raise it to annotate it)")
}
