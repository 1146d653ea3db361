package genes

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Rank of a dictionary entry: how the key was derived from the gene.
const (
	RankSymbol = 0
	RankAlias  = 1
	RankName   = 2
)

// MinKeyLen is the shortest normalised key looked up: one-letter mentions
// are never linked.
const MinKeyLen = 2

// Header is the first line of a dictionary file.
const Header = "# nerstream gene dictionary v1: key<TAB>rank<TAB>NCBIGene:id<TAB>symbol, sorted by key"

// Dict is a loaded dictionary. It is read-only and safe for concurrent use.
type Dict struct {
	data  []byte
	lines []uint32 // start of each entry line in data, sorted by key
}

// Load reads a dictionary file written by [Write].
func Load(path string) (*Dict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load gene dictionary: %w (built by make setup)", err)
	}
	if !bytes.HasPrefix(data, []byte(Header+"\n")) {
		return nil, fmt.Errorf("load gene dictionary %s: not a dictionary file (first line is not %q)", path, Header)
	}
	if len(data) > 1<<31 {
		return nil, fmt.Errorf("load gene dictionary %s: %d bytes is too large", path, len(data))
	}
	d := &Dict{data: data}
	prev := ""
	for off := len(Header) + 1; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			return nil, fmt.Errorf("load gene dictionary %s: last line has no newline", path)
		}
		line := data[off : off+end]
		if bytes.Count(line, []byte{'\t'}) != 3 {
			return nil, fmt.Errorf("load gene dictionary %s: line %d: want 4 tab-separated fields", path, len(d.lines)+2)
		}
		k := string(line[:bytes.IndexByte(line, '\t')])
		if k < prev {
			return nil, fmt.Errorf("load gene dictionary %s: line %d: keys not sorted", path, len(d.lines)+2)
		}
		prev = k
		d.lines = append(d.lines, uint32(off))
		off += end + 1
	}
	return d, nil
}

// Len is the number of entries.
func (d *Dict) Len() int { return len(d.lines) }

func (d *Dict) entry(i int) (key string, rank int, id, symbol string) {
	off := int(d.lines[i])
	end := off + bytes.IndexByte(d.data[off:], '\n')
	f := strings.Split(string(d.data[off:end]), "\t")
	rank, _ = strconv.Atoi(f[1])
	return f[0], rank, f[2], f[3]
}

func (d *Dict) key(i int) []byte {
	off := int(d.lines[i])
	return d.data[off : off+bytes.IndexByte(d.data[off:], '\t')]
}

// lookup returns the genes of the best rank for a normalised key.
func (d *Dict) lookup(key string) (ids, symbols []string) {
	kb := []byte(key)
	i := sort.Search(len(d.lines), func(i int) bool { return bytes.Compare(d.key(i), kb) >= 0 })
	best := 99
	for ; i < len(d.lines) && bytes.Equal(d.key(i), kb); i++ {
		_, rank, id, sym := d.entry(i)
		if rank < best {
			best, ids, symbols = rank, nil, nil
		}
		if rank == best && !contains(ids, id) {
			ids, symbols = append(ids, id), append(symbols, sym)
		}
	}
	return ids, symbols
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Link returns the id and symbol of the one gene the mention matches at its
// best rank, or "" and the number of candidates (0: none, >1: ambiguous).
func (d *Dict) Link(text string) (id, symbol string, candidates int) {
	key := Normalize(text)
	if len([]rune(key)) < MinKeyLen {
		return "", "", 0
	}
	ids, syms := d.lookup(key)
	if len(ids) == 0 {
		if k2 := greekInitial(key); k2 != "" {
			ids, syms = d.lookup(k2)
		}
	}
	if len(ids) == 1 {
		return ids[0], syms[0], 1
	}
	return "", "", len(ids)
}

// Entry is one dictionary line.
type Entry struct {
	Key    string
	Rank   int
	ID     string // "NCBIGene:<id>"
	Symbol string
}

// Write writes entries (sorted and deduplicated here) as a dictionary file.
func Write(w io.Writer, entries []Entry) error {
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.Rank != b.Rank {
			return a.Rank < b.Rank
		}
		return a.ID < b.ID
	})
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, Header)
	var last Entry
	for _, e := range entries {
		if e.Key == "" || e == last || strings.ContainsAny(e.Key+e.ID+e.Symbol, "\t\n") {
			continue
		}
		last = e
		fmt.Fprintf(bw, "%s\t%d\t%s\t%s\n", e.Key, e.Rank, e.ID, e.Symbol)
	}
	return bw.Flush()
}
