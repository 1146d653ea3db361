package sink

import (
	"bytes"
	"context"
	"fmt"
	"sort"
)

// Keys lists the chunks files under one model directory ("<name>-<version12>"),
// or under every model directory when model is empty, in key order.
func (s *Store) Keys(ctx context.Context, model string) ([]Key, error) {
	prefix := ""
	if model != "" {
		if err := ValidateModelDir(model); err != nil {
			return nil, fmt.Errorf("list %s: %w", s.name, err)
		}
		prefix = "model=" + model + "/"
	}
	if s.prefix != "" {
		prefix = s.prefix + "/" + prefix
	}
	return s.list(ctx, prefix)
}

// Models returns the distinct model directories of keys, sorted.
func Models(keys []Key) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if !seen[k.Model] {
			seen[k.Model] = true
			out = append(out, k.Model)
		}
	}
	sort.Strings(out)
	return out
}

// ReadKey reads and decodes one chunks file. Memory is bounded by that
// file's rows (the worker cuts files at --flush-records / --flush-bytes).
func (s *Store) ReadKey(ctx context.Context, k Key) ([]Row, error) {
	key := k.String()
	var data []byte
	err := s.retry(ctx, "read "+key, func(ctx context.Context) error {
		var err error
		data, err = s.bucket.ReadAll(ctx, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s key %s: %w", s.name, key, err)
	}
	rows, err := ReadParquet(ctx, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read %s key %s: %w", s.name, key, err)
	}
	return rows, nil
}
