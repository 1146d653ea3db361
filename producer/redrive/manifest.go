package redrive

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nerstream/nerstream/producer/ingest"
)

// ManifestVersion is the format version of the redrive manifest.
const ManifestVersion = 1

// Manifest records the dead letters already redriven: per dead-letter topic
// and partition, ranges of offsets. It is kept in an ingest.ManifestStore
// (a local file or a bucket object, as the producer's --manifest).
type Manifest struct {
	mu    sync.Mutex
	store ingest.ManifestStore
	done  map[string]map[int][]span // topic → partition → sorted, disjoint
}

// span is an inclusive range of offsets.
type span [2]int64

// manifestKind tells a redrive manifest from the producer's ingest one.
const manifestKind = "redrive"

type manifestJSON struct {
	Kind    string                       `json:"kind"`
	Version int                          `json:"version"`
	Updated time.Time                    `json:"updated"`
	Done    map[string]map[string][]span `json:"done"` // topic → partition → [first, last] offsets
}

// NewManifest returns an empty manifest saved to store (nil: memory only).
func NewManifest(store ingest.ManifestStore) *Manifest {
	return &Manifest{store: store, done: map[string]map[int][]span{}}
}

// LoadManifest reads the manifest from store; a missing one is empty.
func LoadManifest(ctx context.Context, store ingest.ManifestStore) (*Manifest, error) {
	m := NewManifest(store)
	data, err := store.Load(ctx)
	if err != nil || data == nil {
		if err != nil {
			return nil, fmt.Errorf("load redrive manifest %s: %w", store, err)
		}
		return m, nil
	}
	var mj manifestJSON
	if err := json.Unmarshal(data, &mj); err != nil {
		return nil, fmt.Errorf("load redrive manifest %s: %w", store, err)
	}
	if mj.Kind != manifestKind {
		return nil, fmt.Errorf("load redrive manifest %s: kind %q is not %q (the producer's ingest manifest?)", store, mj.Kind, manifestKind)
	}
	if mj.Version != ManifestVersion {
		return nil, fmt.Errorf("load redrive manifest %s: version %d is not supported (want %d)", store, mj.Version, ManifestVersion)
	}
	for topic, parts := range mj.Done {
		for ps, spans := range parts {
			p, err := strconv.Atoi(ps)
			if err != nil || p < 0 {
				return nil, fmt.Errorf("load redrive manifest %s: topic %s: bad partition %q", store, topic, ps)
			}
			for _, s := range spans {
				if s[0] < 0 || s[1] < s[0] {
					return nil, fmt.Errorf("load redrive manifest %s: topic %s partition %d: bad range %v", store, topic, p, s)
				}
				m.add(topic, p, s)
			}
		}
	}
	return m, nil
}

// Done reports whether the dead letter at topic/partition/offset was
// redriven.
func (m *Manifest) Done(topic string, partition int, offset int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	spans := m.done[topic][partition]
	i, _ := slices.BinarySearchFunc(spans, offset, func(s span, o int64) int {
		switch {
		case s[1] < o:
			return -1
		case s[0] > o:
			return 1
		}
		return 0
	})
	return i < len(spans) && spans[i][0] <= offset && offset <= spans[i][1]
}

// MarkDone records the offsets of topic/partition as redriven and saves.
func (m *Manifest) MarkDone(ctx context.Context, topic string, partition int, offsets ...int64) error {
	if len(offsets) == 0 {
		return nil
	}
	m.mu.Lock()
	for _, o := range offsets {
		m.add(topic, partition, span{o, o})
	}
	data, err := m.marshalLocked()
	m.mu.Unlock()
	if err != nil || m.store == nil {
		return err
	}
	if err := m.store.Save(ctx, data); err != nil {
		return fmt.Errorf("save redrive manifest %s: %w", m.store, err)
	}
	return nil
}

// add inserts s, merging it with adjacent or overlapping spans.
func (m *Manifest) add(topic string, p int, s span) {
	if m.done[topic] == nil {
		m.done[topic] = map[int][]span{}
	}
	spans := append(m.done[topic][p], s)
	slices.SortFunc(spans, func(a, b span) int { return int(min(max(a[0]-b[0], -1), 1)) })
	out := spans[:1]
	for _, x := range spans[1:] {
		last := &out[len(out)-1]
		if x[0] <= last[1]+1 {
			last[1] = max(last[1], x[1])
			continue
		}
		out = append(out, x)
	}
	m.done[topic][p] = out
}

func (m *Manifest) marshalLocked() ([]byte, error) {
	mj := manifestJSON{Kind: manifestKind, Version: ManifestVersion, Updated: time.Now().UTC(), Done: map[string]map[string][]span{}}
	for topic, parts := range m.done {
		mj.Done[topic] = map[string][]span{}
		for p, spans := range parts {
			mj.Done[topic][strconv.Itoa(p)] = spans
		}
	}
	data, err := json.MarshalIndent(mj, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode redrive manifest: %w", err)
	}
	return append(data, '\n'), nil
}
