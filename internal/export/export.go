package export

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/nerstream/nerstream/internal/enrich"
	"github.com/nerstream/nerstream/internal/formats"
	"github.com/nerstream/nerstream/internal/sink"
)

// Source is where the chunk files are: *sink.Store implements it.
type Source interface {
	Keys(ctx context.Context, model string) ([]sink.Key, error)
	ReadKey(ctx context.Context, k sink.Key) ([]sink.Row, error)
}

// Stats counts what an export did.
type Stats struct {
	Files       int // chunk files read per pass
	Documents   int // documents written
	Annotations int // annotations written
	Deleted     int // documents withdrawn by a tombstone
	Superseded  int // document messages that lost to a later version
	// Unwritable counts documents the format cannot represent (a PubTator
	// id with '|'); they are skipped, the others written. UnwritableIDs
	// holds the first MaxReportedIDs of their ids.
	Unwritable    int
	UnwritableIDs []string
}

// MaxReportedIDs bounds Stats.UnwritableIDs (memory stays bounded).
const MaxReportedIDs = 20

type config struct{ shards int }

// Option configures [Run].
type Option func(*config)

// WithShards splits the documents into n rounds by a hash of their id
// (default 1): memory for the winner table drops n-fold, the files are read
// n+1 times.
func WithShards(n int) Option { return func(c *config) { c.shards = n } }

type winner struct {
	version   int32
	partition int32
	offset    int64
	deleted   bool
	written   bool
	seen      int
}

func (w winner) beats(r sink.Row) bool {
	if w.version != r.DocVersion {
		return w.version > r.DocVersion
	}
	if w.partition != r.Partition {
		return w.partition > r.Partition
	}
	return w.offset >= r.Offset
}

// ResolveModel picks the model directory: model itself when given, else the
// only one present; several without a choice is an error listing them.
func ResolveModel(ctx context.Context, src Source, model string) (string, error) {
	if model != "" {
		return model, nil
	}
	keys, err := src.Keys(ctx, "")
	if err != nil {
		return "", err
	}
	ms := sink.Models(keys)
	switch len(ms) {
	case 0:
		return "", fmt.Errorf("no chunk files found")
	case 1:
		return ms[0], nil
	}
	return "", fmt.Errorf("output of %d models found (%v): choose one with --model NAME-VERSION", len(ms), ms)
}

// Run writes the current state of every document under model to w, in the
// order of the files (key order) and of the rows in them. A document w
// cannot represent (formats.ErrUnrepresentable) is skipped and counted in
// Stats.Unwritable; any other error stops Run.
func Run(ctx context.Context, src Source, model string, w formats.Writer, opts ...Option) (Stats, error) {
	cfg := config{shards: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.shards < 1 {
		return Stats{}, fmt.Errorf("export: %d shards, want at least 1", cfg.shards)
	}
	keys, err := src.Keys(ctx, model)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Files: len(keys)}
	for shard := 0; shard < cfg.shards; shard++ {
		mine := func(id string) bool {
			if cfg.shards == 1 {
				return true
			}
			h := fnv.New32a()
			h.Write([]byte(id))
			return int(h.Sum32()%uint32(cfg.shards)) == shard
		}
		win := map[string]*winner{}
		for _, k := range keys {
			rows, err := src.ReadKey(ctx, k)
			if err != nil {
				return st, err
			}
			for _, r := range rows {
				if r.ChunkIndex != sink.DocumentMarker || !mine(r.DocID) {
					continue
				}
				cur := win[r.DocID]
				if cur == nil {
					cur = &winner{version: -1 << 31}
					win[r.DocID] = cur
				}
				if r.Op == sink.OpDelete {
					cur.deleted = true
					continue
				}
				cur.seen++
				if !cur.beats(r) || cur.seen == 1 {
					cur.version, cur.partition, cur.offset = r.DocVersion, r.Partition, r.Offset
				}
			}
		}
		for _, w := range win {
			if w.deleted {
				st.Deleted++
			} else if w.seen > 1 {
				st.Superseded += w.seen - 1
			}
		}
		for _, k := range keys {
			rows, err := src.ReadKey(ctx, k)
			if err != nil {
				return st, err
			}
			if err := writeFile(rows, win, w, &st); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// writeFile writes the winning documents whose marker is in rows.
func writeFile(rows []sink.Row, win map[string]*winner, w formats.Writer, st *Stats) error {
	type msg struct {
		id        string
		partition int32
		offset    int64
	}
	var order []msg
	groups := map[msg][]sink.Row{}
	for _, r := range rows {
		cur := win[r.DocID]
		if cur == nil || cur.deleted || cur.written || r.Op != sink.OpUpsert || r.DocVersion != cur.version || r.Partition != cur.partition || r.Offset != cur.offset {
			continue
		}
		m := msg{r.DocID, r.Partition, r.Offset}
		if r.ChunkIndex == sink.DocumentMarker {
			if _, dup := groups[m]; !dup {
				order = append(order, m)
				groups[m] = nil
			}
			continue
		}
		groups[m] = append(groups[m], r)
	}
	for _, m := range order {
		rs := groups[m]
		sort.Slice(rs, func(i, j int) bool { return rs[i].ChunkIndex < rs[j].ChunkIndex })
		d := formats.Document{ID: m.id, Infons: [][2]string{{"doc_version", fmt.Sprint(win[m.id].version)}}}
		seen := map[int32]bool{}
		for _, r := range rs {
			if r.Passage != "" && !seen[r.PassageOffset] {
				seen[r.PassageOffset] = true
				d.Passages = append(d.Passages, formats.Passage{Type: r.Passage, Offset: int(r.PassageOffset)})
			}
			d.Annotations = append(d.Annotations, enrich.RowAnnotation(r))
		}
		sort.Slice(d.Passages, func(i, j int) bool { return d.Passages[i].Offset < d.Passages[j].Offset })
		err := w.Write(d)
		switch {
		case errors.Is(err, formats.ErrUnrepresentable):
			st.Unwritable++
			if len(st.UnwritableIDs) < MaxReportedIDs {
				st.UnwritableIDs = append(st.UnwritableIDs, m.id)
			}
		case err != nil:
			return err
		default:
			st.Documents++
			st.Annotations += len(rs)
		}
		// A document is written once even if the same message sits in two
		// files (a re-uploaded range).
		win[m.id].written = true
	}
	return nil
}
