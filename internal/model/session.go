package model

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// Device selects the execution provider.
type Device struct {
	// Kind is "auto", "cpu" or "cuda".
	Kind string
	// ID is the CUDA device ordinal.
	ID int
}

// ParseDevice parses "auto", "cpu", "cuda" or "cuda:N".
func ParseDevice(s string) (Device, error) {
	switch s {
	case "", "auto":
		return Device{Kind: "auto"}, nil
	case "cpu":
		return Device{Kind: "cpu"}, nil
	case "cuda", "gpu":
		return Device{Kind: "cuda"}, nil
	}
	if rest, ok := strings.CutPrefix(s, "cuda:"); ok {
		n, err := strconv.Atoi(rest)
		if err == nil && n >= 0 {
			return Device{Kind: "cuda", ID: n}, nil
		}
	}
	return Device{}, fmt.Errorf("device %q: want auto, cpu, cuda or cuda:N", s)
}

func (d Device) String() string {
	if d.Kind == "cuda" {
		return "cuda:" + strconv.Itoa(d.ID)
	}
	return d.Kind
}

// Option configures a Session.
type Option func(*options)

type options struct {
	batch        int
	device       Device
	intraThreads int
	interThreads int
	warmup       bool
	log          *slog.Logger
}

// WithBatchSize sets B, the number of windows per run (default 32).
func WithBatchSize(b int) Option { return func(o *options) { o.batch = b } }

// WithDevice selects the execution provider (default auto: CUDA when usable,
// else CPU with one log line).
func WithDevice(d Device) Option { return func(o *options) { o.device = d } }

// WithThreads sets ONNX Runtime's intra-op and inter-op thread counts
// (0 keeps the runtime's default: one intra-op thread per core).
func WithThreads(intra, inter int) Option {
	return func(o *options) { o.intraThreads, o.interThreads = intra, inter }
}

// WithWarmup runs one full all-padding batch at start-up (default off). The
// graph's declared shapes already prove the inputs, the sequence length and
// the label count; the warm-up run happens anyway when the graph leaves the
// label dimension open, since only a run can then compare it with
// config.json. A warm-up moves ONNX Runtime's lazy initialisation (seconds
// for a BERT-base graph) before the first real batch.
func WithWarmup(on bool) Option { return func(o *options) { o.warmup = on } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Session runs a bundle's graph on fixed [B, T] int64 inputs. It is not safe
// for concurrent use: Run reuses the same tensors.
type Session struct {
	bundle  *Bundle
	batch   int
	seq     int
	labels  int
	intra   int
	device  Device
	sess    *ort.AdvancedSession
	ids     *ort.Tensor[int64]
	mask    *ort.Tensor[int64]
	types   *ort.Tensor[int64]
	logits  *ort.Tensor[float32]
	mu      sync.Mutex
	closed  bool
	release []interface{ Destroy() error }
}

// NewSession creates an ONNX Runtime session for the bundle with tensors of
// shape [B, T] allocated once, then runs one all-padding batch to prove that
// the graph accepts the shape and that its logits match the bundle's labels.
func NewSession(b *Bundle, opts ...Option) (*Session, error) {
	o := options{batch: 32, device: Device{Kind: "auto"}, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.batch < 1 || o.batch > 4096 {
		return nil, fmt.Errorf("model %s: batch size %d out of range 1..4096", b.Dir, o.batch)
	}
	if err := Init(); err != nil {
		return nil, err
	}
	inNames, outName, hasTypes, labelsDeclared, err := graphIO(b)
	if err != nil {
		return nil, err
	}
	s := &Session{bundle: b, batch: o.batch, seq: b.MaxLength, labels: len(b.Labels), intra: o.intraThreads}
	shape := ort.NewShape(int64(s.batch), int64(s.seq))
	if s.ids, err = ort.NewEmptyTensor[int64](shape); err != nil {
		return nil, fmt.Errorf("model %s: allocate input_ids: %w", b.Dir, err)
	}
	s.release = append(s.release, s.ids)
	if s.mask, err = ort.NewEmptyTensor[int64](shape); err != nil {
		s.Close()
		return nil, fmt.Errorf("model %s: allocate attention_mask: %w", b.Dir, err)
	}
	s.release = append(s.release, s.mask)
	inputs := []ort.Value{s.ids, s.mask}
	if hasTypes {
		if s.types, err = ort.NewEmptyTensor[int64](shape); err != nil {
			s.Close()
			return nil, fmt.Errorf("model %s: allocate token_type_ids: %w", b.Dir, err)
		}
		s.release = append(s.release, s.types)
		inputs = append(inputs, s.types)
	}
	if s.logits, err = ort.NewEmptyTensor[float32](ort.NewShape(int64(s.batch), int64(s.seq), int64(s.labels))); err != nil {
		s.Close()
		return nil, fmt.Errorf("model %s: allocate logits: %w", b.Dir, err)
	}
	s.release = append(s.release, s.logits)

	so, dev, err := sessionOptions(o)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("model %s: %w", b.Dir, err)
	}
	defer so.Destroy()
	s.device = dev
	s.sess, err = ort.NewAdvancedSession(b.ModelPath, inNames, []string{outName}, inputs, []ort.Value{s.logits}, so)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("model %s: create session: %w", b.ModelPath, err)
	}
	// Warm-up on an all-padding batch with a [CLS] [SEP] row: catches label
	// mismatches the graph does not declare, and front-loads initialisation.
	warm := o.warmup || !labelsDeclared
	if warm {
		ids := make([]int64, s.batch*s.seq)
		mask := make([]int64, s.batch*s.seq)
		ids[0], ids[1], mask[0], mask[1] = b.Tokenizer.CLS(), b.Tokenizer.SEP(), 1, 1
		if _, err := s.Run(context.Background(), ids, mask); err != nil {
			s.Close()
			return nil, fmt.Errorf("model %s: warm-up run with [%d,%d] inputs and [%d,%d,%d] logits (labels in config.json: %d): %w",
				b.ModelPath, s.batch, s.seq, s.batch, s.seq, s.labels, s.labels, err)
		}
	}
	o.log.Info("model session ready", "model", b.ID(), "device", dev.String(), "batch", s.batch, "seq", s.seq,
		"labels", s.labels, "inputs", inNames, "warmup", warm)
	return s, nil
}

// graphIO reads the graph's input and output names and checks them against
// the BERT token-classification contract.
// graphIO checks the graph's inputs and output against the bundle;
// labelsDeclared is false when the graph leaves the label dimension open.
func graphIO(b *Bundle) (inputs []string, output string, hasTypes, labelsDeclared bool, err error) {
	ins, outs, err := readGraphIO(b.ModelPath)
	if err != nil {
		// Not readable as ONNX here: let ONNX Runtime say why.
		ins, outs, err = ort.GetInputOutputInfo(b.ModelPath)
	}
	if err != nil {
		return nil, "", false, false, fmt.Errorf("model %s: read graph: %w", b.ModelPath, err)
	}
	have := map[string]ort.InputOutputInfo{}
	for _, in := range ins {
		have[in.Name] = in
	}
	for _, want := range []string{"input_ids", "attention_mask"} {
		in, ok := have[want]
		if !ok {
			return nil, "", false, false, fmt.Errorf("model %s: graph has no input %q (inputs: %v)", b.ModelPath, want, names(ins))
		}
		if in.DataType != ort.TensorElementDataTypeInt64 || len(in.Dimensions) != 2 {
			return nil, "", false, false, fmt.Errorf("model %s: input %s is %s, want int64 [batch, seq]", b.ModelPath, want, in.String())
		}
	}
	inputs = []string{"input_ids", "attention_mask"}
	if _, ok := have["token_type_ids"]; ok {
		inputs, hasTypes = append(inputs, "token_type_ids"), true
	}
	for _, in := range ins {
		if in.Name != "input_ids" && in.Name != "attention_mask" && in.Name != "token_type_ids" {
			return nil, "", false, false, fmt.Errorf("model %s: unexpected graph input %q (supported: input_ids, attention_mask, token_type_ids)", b.ModelPath, in.Name)
		}
	}
	if len(outs) == 0 {
		return nil, "", false, false, fmt.Errorf("model %s: graph has no outputs", b.ModelPath)
	}
	out := outs[0]
	for _, o := range outs {
		if o.Name == "logits" {
			out = o
		}
	}
	if out.DataType != ort.TensorElementDataTypeFloat || len(out.Dimensions) != 3 {
		return nil, "", false, false, fmt.Errorf("model %s: output %s, want float32 logits [batch, seq, labels]", b.ModelPath, out.String())
	}
	if n := out.Dimensions[2]; n > 0 && int(n) != len(b.Labels) {
		return nil, "", false, false, fmt.Errorf("model %s: logits have %d labels but config.json id2label has %d", b.ModelPath, n, len(b.Labels))
	}
	for i, d := range []int64{in2(have["input_ids"].Dimensions, 1), out.Dimensions[1]} {
		if d > 0 && int(d) != b.MaxLength {
			return nil, "", false, false, fmt.Errorf("model %s: graph sequence length is fixed at %d (tensor %d) but the bundle's max length is %d", b.ModelPath, d, i, b.MaxLength)
		}
	}
	return inputs, out.Name, hasTypes, out.Dimensions[2] > 0, nil
}

func in2(s ort.Shape, i int) int64 {
	if i < len(s) {
		return s[i]
	}
	return -1
}

func names(infos []ort.InputOutputInfo) []string {
	n := make([]string, len(infos))
	for i, in := range infos {
		n[i] = in.Name
	}
	return n
}

func sessionOptions(o options) (*ort.SessionOptions, Device, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, Device{}, fmt.Errorf("session options: %w", err)
	}
	fail := func(err error) (*ort.SessionOptions, Device, error) { so.Destroy(); return nil, Device{}, err }
	if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		return fail(err)
	}
	if o.intraThreads > 0 {
		if err := so.SetIntraOpNumThreads(o.intraThreads); err != nil {
			return fail(err)
		}
	}
	if o.interThreads > 0 {
		if err := so.SetInterOpNumThreads(o.interThreads); err != nil {
			return fail(err)
		}
	}
	dev := o.device
	if dev.Kind == "auto" || dev.Kind == "cuda" {
		err := appendCUDA(so, dev.ID)
		switch {
		case err == nil:
			dev.Kind = "cuda"
		case dev.Kind == "cuda":
			return fail(fmt.Errorf("device %s: %w: %v (the ONNX Runtime library in use is CPU-only, or CUDA/cuDNN are missing)", dev, errNoCUDA, err))
		default:
			o.log.Info("CUDA execution provider not usable, running on CPU", "reason", err.Error())
			dev = Device{Kind: "cpu"}
		}
	}
	return so, dev, nil
}

// ResolveDevice settles "auto" before any graph is loaded: CUDA when the ONNX
// Runtime library in use accepts its execution provider for d.ID, else CPU
// (logged). "cpu" is returned as is; "cuda" without a usable provider is an
// error. A session created with the result uses the same provider, so that
// callers opening several sessions can size them for the device and open
// them together.
func ResolveDevice(d Device, log *slog.Logger) (Device, error) {
	if d.Kind == "cpu" {
		return d, nil
	}
	if err := Init(); err != nil {
		return Device{}, err
	}
	if log == nil {
		log = slog.Default()
	}
	so, dev, err := sessionOptions(options{device: d, log: log})
	if err != nil {
		return Device{}, err
	}
	so.Destroy()
	return dev, nil
}

func appendCUDA(so *ort.SessionOptions, id int) error {
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer co.Destroy()
	if err := co.Update(map[string]string{"device_id": strconv.Itoa(id)}); err != nil {
		return err
	}
	return so.AppendExecutionProviderCUDA(co)
}

// BatchSize is B.
func (s *Session) BatchSize() int { return s.batch }

// SeqLen is T.
func (s *Session) SeqLen() int { return s.seq }

// NumLabels is the size of the logits' last axis.
func (s *Session) NumLabels() int { return s.labels }

// IntraThreads is the intra-op thread count asked for (0: ONNX Runtime's
// default).
func (s *Session) IntraThreads() int { return s.intra }

// Device is the execution provider actually in use.
func (s *Session) Device() Device { return s.device }

// Bundle returns the bundle the session runs.
func (s *Session) Bundle() *Bundle { return s.bundle }

// Run copies ids and mask (each exactly B*T long, row-major) into the session's
// tensors, runs the graph and returns the logits, B*T*L row-major. The returned
// slice is owned by the session and valid until the next Run.
func (s *Session) Run(ctx context.Context, ids, mask []int64) ([]float32, error) {
	n := s.batch * s.seq
	if len(ids) != n || len(mask) != n {
		return nil, fmt.Errorf("model run: got %d ids and %d mask values, want exactly %d ([%d,%d])", len(ids), len(mask), n, s.batch, s.seq)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("model run: session closed")
	}
	copy(s.ids.GetData(), ids)
	copy(s.mask.GetData(), mask)
	if err := s.sess.Run(); err != nil {
		return nil, fmt.Errorf("model run %s: %w", s.bundle.ID(), err)
	}
	return s.logits.GetData(), nil
}

// Close releases the session and its tensors.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.sess != nil {
		s.sess.Destroy()
	}
	for _, r := range s.release {
		r.Destroy()
	}
	return nil
}
