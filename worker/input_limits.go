package main

import "flag"

// docLimitFlag registers --max-doc-bytes for commands that read documents
// from files (annotate, eval), with worker run's default and help.
func docLimitFlag(fs *flag.FlagSet) *int {
	p := new(int)
	registerMaxDocBytes(fs, p)
	return p
}
