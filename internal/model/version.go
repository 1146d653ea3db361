package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nerstream/nerstream/internal/wordpiece"
)

// manifestHeader opens every version manifest. It names the rule, so a
// future rule can never produce the version of this one by accident.
const manifestHeader = "nerstream model version 2\n"

// bundleVersion returns the bundle's version and its manifest: one line
// "<name> <hex sha256>\n" per input of the output, sorted by name, after
// manifestHeader; the version is the hex SHA-256 of the manifest. The
// inputs are
//
//   - config.json: the canonical JSON (encoding/json of configJSON, keys
//     sorted) of the fields LoadBundle reads, without nerstream.name, which
//     is part of the output directory on its own;
//   - model.onnx, and crf.json when present: their bytes;
//   - the tokenizer files wordpiece.LoadDir reads (wordpiece.Files): their
//     bytes.
//
// Nothing else in the directory counts, so a README or MODEL_CARD.md, or a
// descriptive config.json field such as nerstream.trained_on, never changes
// the version.
func bundleVersion(dir string, cfg configJSON) (version, manifest string, err error) {
	cfg.NerstreamConf.Name = ""
	canon, err := json.Marshal(cfg)
	if err != nil {
		return "", "", fmt.Errorf("canonical config.json: %w", err)
	}
	sums := map[string]string{"config.json": sha256Hex(canon)}
	files := []string{filepath.Join(dir, "model.onnx")}
	if _, err := os.Stat(filepath.Join(dir, "crf.json")); err == nil {
		files = append(files, filepath.Join(dir, "crf.json"))
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	tok, err := wordpiece.Files(dir)
	if err != nil {
		return "", "", err
	}
	for _, p := range append(files, tok...) {
		if sums[filepath.Base(p)], err = fileSHA256(p); err != nil {
			return "", "", err
		}
	}
	names := make([]string, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	sort.Strings(names)
	var m strings.Builder
	m.WriteString(manifestHeader)
	for _, name := range names {
		fmt.Fprintf(&m, "%s %s\n", name, sums[name])
	}
	return sha256Hex([]byte(m.String())), m.String(), nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
