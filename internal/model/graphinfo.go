package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of onnx.proto (ModelProto, GraphProto, ValueInfoProto,
// TypeProto, TensorShapeProto, TensorProto) that readGraphIO reads.
const (
	fModelGraph       = 7
	fGraphNode        = 1
	fNodeOpType       = 4
	fNodeAttribute    = 5
	fAttrGraph        = 6
	fAttrGraphs       = 11
	fGraphInitializer = 5
	fGraphInput       = 11
	fGraphOutput      = 12
	fValueInfoName    = 1
	fValueInfoType    = 2
	fTypeTensor       = 1
	fTensorTypeElem   = 1
	fTensorTypeShape  = 2
	fShapeDim         = 1
	fDimValue         = 1
	fTensorProtoName  = 8
	maxValueInfoBytes = 1 << 20 // a declared input or output; weights are never read
	binaryMaxVarint   = 10
)

var errNotONNX = errors.New("not an ONNX model file")

// readGraphIO reads the declared inputs and outputs of an ONNX model file
// without loading the model: it walks ModelProto.graph field by field with
// positioned reads and skips every initializer by its length, reading only
// its name (graph inputs that are initializers are not inputs a caller
// feeds, as ONNX Runtime reports them). For a 390 MB BERT-base graph this
// takes milliseconds where ort.GetInputOutputInfo creates, and throws away,
// a whole session (about a second). Dimensions that are symbolic or absent
// are -1, like ONNX Runtime's; element types use ONNX's numbering, which
// ONNX Runtime's TensorElementDataType shares.
func readGraphIO(path string) (ins, outs []ort.InputOutputInfo, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	return graphIOFrom(f, st.Size())
}

// graphRange finds ModelProto.graph: the offsets of its payload.
func graphRange(r io.ReaderAt, size int64) (start, end int64, err error) {
	found := false
	err = walk(r, 0, size, func(num protowire.Number, typ protowire.Type, off, n int64, _ uint64) error {
		if num == fModelGraph && typ == protowire.BytesType {
			start, end, found = off, off+n, true
		}
		return nil
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: no graph", errNotONNX)
	}
	return start, end, err
}

// graphIOFrom is readGraphIO over any positioned reader of size bytes.
func graphIOFrom(r io.ReaderAt, size int64) (ins, outs []ort.InputOutputInfo, err error) {
	gStart, gEnd, err := graphRange(r, size)
	if err != nil {
		return nil, nil, err
	}
	inits := map[string]bool{}
	err = walk(r, gStart, gEnd, func(num protowire.Number, typ protowire.Type, off, n int64, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fGraphInput, fGraphOutput:
			if n > maxValueInfoBytes {
				return fmt.Errorf("%w: a graph input or output of %d bytes", errNotONNX, n)
			}
			b := make([]byte, n)
			if _, err := r.ReadAt(b, off); err != nil {
				return err
			}
			info, err := valueInfo(b)
			if err != nil {
				return err
			}
			if num == fGraphInput {
				ins = append(ins, info)
			} else {
				outs = append(outs, info)
			}
		case fGraphInitializer:
			return walk(r, off, off+n, func(num protowire.Number, typ protowire.Type, off, n int64, _ uint64) error {
				if num == fTensorProtoName && typ == protowire.BytesType && n <= maxValueInfoBytes {
					b := make([]byte, n)
					if _, err := r.ReadAt(b, off); err != nil {
						return err
					}
					inits[string(b)] = true
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	feed := ins[:0]
	for _, in := range ins {
		if !inits[in.Name] {
			feed = append(feed, in)
		}
	}
	return feed, outs, nil
}

// readGraphOps counts the operator types of the nodes of an ONNX model
// file's main graph and of the subgraphs in its nodes' attributes (Scan,
// Loop, If bodies), the same way readGraphIO reads its inputs: field by
// field, weights skipped.
func readGraphOps(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return graphOpsFrom(f, st.Size())
}

// maxGraphDepth bounds the nesting of subgraphs readGraphOps follows.
const maxGraphDepth = 8

// graphOpsFrom is readGraphOps over any positioned reader of size bytes.
func graphOpsFrom(r io.ReaderAt, size int64) (map[string]int, error) {
	gStart, gEnd, err := graphRange(r, size)
	if err != nil {
		return nil, err
	}
	ops := map[string]int{}
	return ops, graphOps(r, gStart, gEnd, ops, 0)
}

// graphOps adds the operator types of the GraphProto in r[start:end] and of
// its nodes' subgraphs to ops.
func graphOps(r io.ReaderAt, start, end int64, ops map[string]int, depth int) error {
	if depth > maxGraphDepth {
		return fmt.Errorf("%w: subgraphs nested more than %d deep", errNotONNX, maxGraphDepth)
	}
	return walk(r, start, end, func(num protowire.Number, typ protowire.Type, off, n int64, _ uint64) error {
		if num != fGraphNode || typ != protowire.BytesType {
			return nil
		}
		return walk(r, off, off+n, func(num protowire.Number, typ protowire.Type, off, n int64, _ uint64) error {
			if num == fNodeAttribute && typ == protowire.BytesType {
				return walk(r, off, off+n, func(num protowire.Number, typ protowire.Type, off, n int64, _ uint64) error {
					if (num == fAttrGraph || num == fAttrGraphs) && typ == protowire.BytesType {
						return graphOps(r, off, off+n, ops, depth+1)
					}
					return nil
				})
			}
			if num != fNodeOpType || typ != protowire.BytesType {
				return nil
			}
			if n > maxValueInfoBytes {
				return fmt.Errorf("%w: an operator type of %d bytes", errNotONNX, n)
			}
			b := make([]byte, n)
			if _, err := r.ReadAt(b, off); err != nil {
				return err
			}
			ops[string(b)]++
			return nil
		})
	})
}

// walk calls fn for each field of the message in r[start:end]: for a
// length-delimited field with the offset and length of its payload, for a
// varint with its value, for fixed-size fields with their offset. Payloads
// are not read. Groups (unused by onnx.proto) are an error.
func walk(r io.ReaderAt, start, end int64, fn func(num protowire.Number, typ protowire.Type, off, n int64, x uint64) error) error {
	var head [2 * binaryMaxVarint]byte
	for off := start; off < end; {
		k, err := r.ReadAt(head[:min(int64(len(head)), end-off)], off)
		if k == 0 && err != nil {
			return fmt.Errorf("%w: %v", errNotONNX, err)
		}
		b := head[:k]
		num, typ, tl := protowire.ConsumeTag(b)
		if tl < 0 || num < 1 {
			return fmt.Errorf("%w: bad field tag at byte %d", errNotONNX, off)
		}
		var n, hl int64
		var x uint64
		switch typ {
		case protowire.VarintType:
			v, l := protowire.ConsumeVarint(b[tl:])
			if l < 0 {
				return fmt.Errorf("%w: bad varint at byte %d", errNotONNX, off)
			}
			hl, x = int64(tl+l), v
		case protowire.Fixed32Type:
			hl = int64(tl + 4)
		case protowire.Fixed64Type:
			hl = int64(tl + 8)
		case protowire.BytesType:
			v, l := protowire.ConsumeVarint(b[tl:])
			if l < 0 || v > uint64(end) {
				return fmt.Errorf("%w: bad length at byte %d", errNotONNX, off)
			}
			hl, n = int64(tl+l), int64(v)
		default:
			return fmt.Errorf("%w: unsupported wire type %d at byte %d", errNotONNX, typ, off)
		}
		if off+hl+n > end {
			return fmt.Errorf("%w: field at byte %d runs past its message", errNotONNX, off)
		}
		if err := fn(num, typ, off+hl, n, x); err != nil {
			return err
		}
		off += hl + n
	}
	return nil
}

// fields is walk over a message in memory: fn gets a length-delimited
// field's payload or a varint's value.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	return walk(bytes.NewReader(b), 0, int64(len(b)), func(num protowire.Number, typ protowire.Type, off, n int64, x uint64) error {
		var v []byte
		if typ == protowire.BytesType {
			v = b[off : off+n]
		}
		return fn(num, typ, v, x)
	})
}

// message returns the payload of the last length-delimited field num of the
// message in b (protobuf's rule for a repeated singular field), and whether
// there was one.
func message(b []byte, num protowire.Number) (v []byte, ok bool, err error) {
	err = fields(b, func(n protowire.Number, typ protowire.Type, p []byte, _ uint64) error {
		if n == num && typ == protowire.BytesType {
			v, ok = p, true
		}
		return nil
	})
	return v, ok, err
}

// valueInfo decodes a ValueInfoProto: name, and for a tensor its element
// type and shape.
func valueInfo(b []byte) (ort.InputOutputInfo, error) {
	info := ort.InputOutputInfo{OrtValueType: ort.ONNXTypeUnknown}
	name, _, err := message(b, fValueInfoName)
	if err != nil {
		return info, err
	}
	if info.Name = string(name); info.Name == "" {
		return info, fmt.Errorf("%w: a graph input or output without a name", errNotONNX)
	}
	typ, _, err := message(b, fValueInfoType)
	if err != nil {
		return info, err
	}
	tensor, ok, err := message(typ, fTypeTensor)
	if err != nil || !ok {
		return info, err
	}
	info.OrtValueType, info.Dimensions = ort.ONNXTypeTensor, ort.Shape{}
	var shape []byte
	err = fields(tensor, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == fTensorTypeElem && typ == protowire.VarintType:
			info.DataType = ort.TensorElementDataType(x)
		case num == fTensorTypeShape && typ == protowire.BytesType:
			shape = v
		}
		return nil
	})
	if err != nil {
		return info, err
	}
	return info, fields(shape, func(num protowire.Number, typ protowire.Type, dim []byte, _ uint64) error {
		if num != fShapeDim || typ != protowire.BytesType {
			return nil
		}
		d := int64(-1) // dim_param or unknown, as ONNX Runtime reports it
		err := fields(dim, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
			if num == fDimValue && typ == protowire.VarintType {
				d = int64(x)
			}
			return nil
		})
		info.Dimensions = append(info.Dimensions, d)
		return err
	})
}
