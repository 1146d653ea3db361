package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nerstream/nerstream/internal/wordpiece"
)

// DefaultMaxLength is the window length T when the bundle does not say.
const DefaultMaxLength = 128

// Bundle is a loaded model directory: labels, tokenizer, version and the
// path of the graph. It holds no ONNX Runtime state; see NewSession.
type Bundle struct {
	// Dir is the bundle directory.
	Dir string
	// Name is the model name: config.json's nerstream.name, else the
	// directory's base name.
	Name string
	// Version is the bundle's identity: the hex SHA-256 of Manifest, which
	// lists the SHA-256 of every input of the output (see the package doc).
	Version string
	// Manifest is the text Version hashes.
	Manifest string
	// Labels are the output classes in logit order (config.json id2label).
	Labels []string
	// MaxLength is the window length T in wordpieces, [CLS] and [SEP] included.
	MaxLength int
	// Decoding is the bundle's preferred BIO decoding ("bio-viterbi" or
	// "argmax"); empty when the bundle does not say.
	Decoding string
	// CRF holds learned transition scores when the bundle ships crf.json.
	CRF *CRF
	// Tokenizer is the bundle's WordPiece tokenizer.
	Tokenizer *wordpiece.Tokenizer
	// ModelPath is the path of model.onnx.
	ModelPath string
}

// CRF holds transition scores for Viterbi decoding, indexed like Labels.
type CRF struct {
	Transitions [][]float32 `json:"transitions"` // [from][to]
	Start       []float32   `json:"start"`
	End         []float32   `json:"end"`
}

// ShortVersion is the first 12 hex digits of Version, as used in output keys.
func (b *Bundle) ShortVersion() string {
	if len(b.Version) < 12 {
		return b.Version
	}
	return b.Version[:12]
}

// ID is "<name>-<version12>", the model's identity in output paths and the
// default consumer group.
func (b *Bundle) ID() string { return b.Name + "-" + b.ShortVersion() }

type configJSON struct {
	ID2Label      map[string]string `json:"id2label"`
	MaxPositions  int               `json:"max_position_embeddings"`
	NumLabels     int               `json:"num_labels"`
	NerstreamConf struct {
		Name      string `json:"name"`
		MaxLength int    `json:"max_length"`
		Decoding  string `json:"decoding"`
	} `json:"nerstream"`
}

// LoadBundle reads and validates the bundle in dir. Every problem is an error
// naming the file at fault.
func LoadBundle(dir string) (*Bundle, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("model bundle: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("model bundle %s: not a directory", dir)
	}
	b := &Bundle{Dir: dir, ModelPath: filepath.Join(dir, "model.onnx")}

	cfgPath := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("model bundle: %w", err)
	}
	var cfg configJSON
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("model bundle: parse %s: %w", cfgPath, err)
	}
	if b.Labels, err = labelsFromID2Label(cfg.ID2Label); err != nil {
		return nil, fmt.Errorf("model bundle: %s: %w", cfgPath, err)
	}
	if cfg.NumLabels != 0 && cfg.NumLabels != len(b.Labels) {
		return nil, fmt.Errorf("model bundle: %s: num_labels %d but id2label has %d entries", cfgPath, cfg.NumLabels, len(b.Labels))
	}
	b.MaxLength = DefaultMaxLength
	switch {
	case cfg.NerstreamConf.MaxLength > 0:
		b.MaxLength = cfg.NerstreamConf.MaxLength
	case cfg.MaxPositions > 0 && cfg.MaxPositions < DefaultMaxLength:
		b.MaxLength = cfg.MaxPositions
	}
	if b.MaxLength < 8 {
		return nil, fmt.Errorf("model bundle: %s: max length %d is too small", cfgPath, b.MaxLength)
	}
	b.Decoding = cfg.NerstreamConf.Decoding
	b.Name = cfg.NerstreamConf.Name
	if b.Name == "" {
		b.Name = filepath.Base(filepath.Clean(dir))
	}

	if _, err := os.Stat(b.ModelPath); err != nil {
		return nil, fmt.Errorf("model bundle: %w", err)
	}
	if b.Tokenizer, err = wordpiece.LoadDir(dir); err != nil {
		return nil, fmt.Errorf("model bundle %s: tokenizer: %w", dir, err)
	}
	if b.CRF, err = loadCRF(filepath.Join(dir, "crf.json"), len(b.Labels)); err != nil {
		return nil, fmt.Errorf("model bundle: %w", err)
	}
	if b.Version, b.Manifest, err = bundleVersion(dir, cfg); err != nil {
		return nil, fmt.Errorf("model bundle %s: version: %w", dir, err)
	}
	return b, nil
}

func labelsFromID2Label(m map[string]string) ([]string, error) {
	if len(m) == 0 {
		return nil, errors.New("id2label is missing or empty")
	}
	ids := make([]int, 0, len(m))
	for k := range m {
		id, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("id2label key %q is not an integer", k)
		}
		ids = append(ids, id)
	}
	sort.Ints(ids)
	labels := make([]string, len(ids))
	seen := make(map[string]int, len(ids))
	for i, id := range ids {
		if id != i {
			return nil, fmt.Errorf("id2label ids must be 0..%d without gaps (missing %d)", len(ids)-1, i)
		}
		l := m[strconv.Itoa(id)]
		if l != "O" && !strings.HasPrefix(l, "B-") && !strings.HasPrefix(l, "I-") {
			return nil, fmt.Errorf("id2label[%d] = %q is not a BIO label (O, B-X or I-X)", id, l)
		}
		if prev, dup := seen[l]; dup {
			return nil, fmt.Errorf("id2label has label %q twice (ids %d and %d)", l, prev, id)
		}
		seen[l] = id
		labels[i] = l
	}
	return labels, nil
}

func loadCRF(path string, n int) (*CRF, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c CRF
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(c.Transitions) != n || len(c.Start) != n || len(c.End) != n {
		return nil, fmt.Errorf("%s: transitions must be %dx%d with start/end of %d", path, n, n, n)
	}
	for i, row := range c.Transitions {
		if len(row) != n {
			return nil, fmt.Errorf("%s: transitions row %d has %d entries, want %d", path, i, len(row), n)
		}
	}
	return &c, nil
}

// Recurrent reports whether the graph runs recurrent operators (ONNX LSTM,
// GRU or RNN, ONNX Runtime's DynamicQuantizeLSTM, or a Scan: the int8
// bundles' LSTMs are Scans over time, see models/train/quantize_lstm.py),
// in the main graph or a subgraph. Their per-step matrix
// products are small, so on a CPU one single-threaded session per core,
// each running its own batch, outruns one session whose intra-op threads
// split every step. It reads the graph's node list from model.onnx, not
// the weights.
func (b *Bundle) Recurrent() (bool, error) {
	ops, err := readGraphOps(b.ModelPath)
	if err != nil {
		return false, fmt.Errorf("model %s: read operators: %w", b.ModelPath, err)
	}
	for op := range ops {
		switch op {
		case "LSTM", "GRU", "RNN", "DynamicQuantizeLSTM", "Scan":
			return true, nil
		}
	}
	return false, nil
}
