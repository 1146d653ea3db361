// Command genedict builds the gene dictionary of internal/genes from two
// tab-separated exports of org.Hs.eg.db's SQLite file (made by
// scripts/setup.sh with the sqlite3 shell):
//
//	genedict GENES.tsv ALIASES.tsv > hs.genes.tsv
//
// GENES.tsv: gene_id, symbol, full name; ALIASES.tsv: gene_id, alias.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/nerstream/nerstream/internal/genes"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: genedict GENES.tsv ALIASES.tsv > dict.tsv")
		os.Exit(2)
	}
	var entries []genes.Entry
	symbol := map[string]string{}
	read := func(path string, want int, fn func(f []string)) {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "genedict:", err)
			os.Exit(1)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			fs := strings.Split(sc.Text(), "\t")
			if len(fs) != want {
				fmt.Fprintf(os.Stderr, "genedict: %s:%d: %d fields, want %d\n", path, n, len(fs), want)
				os.Exit(1)
			}
			fn(fs)
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintln(os.Stderr, "genedict:", err)
			os.Exit(1)
		}
	}
	read(os.Args[1], 3, func(f []string) {
		id := "NCBIGene:" + f[0]
		symbol[f[0]] = f[1]
		entries = append(entries, genes.Entry{Key: genes.Normalize(f[1]), Rank: genes.RankSymbol, ID: id, Symbol: f[1]},
			genes.Entry{Key: genes.Normalize(f[2]), Rank: genes.RankName, ID: id, Symbol: f[1]})
	})
	read(os.Args[2], 2, func(f []string) {
		if s, ok := symbol[f[0]]; ok {
			entries = append(entries, genes.Entry{Key: genes.Normalize(f[1]), Rank: genes.RankAlias, ID: "NCBIGene:" + f[0], Symbol: s})
		}
	})
	if err := genes.Write(os.Stdout, entries); err != nil {
		fmt.Fprintln(os.Stderr, "genedict:", err)
		os.Exit(1)
	}
}
