package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/nerstream/nerstream/internal/config"
)

// LibraryEnv names the environment variable that overrides where the ONNX
// Runtime shared library is loaded from.
const LibraryEnv = "ONNXRUNTIME_LIB"

const libName = "libonnxruntime.so.1"

var (
	initOnce sync.Once
	initErr  error
	initPath string
)

// LibraryCandidates lists, in order, the places the ONNX Runtime shared
// library is looked for: $ONNXRUNTIME_LIB; next to the executable and in its
// ../lib; .cache/onnxruntime in the working directory or any parent (where
// `make setup` puts it); then the system library directories.
func LibraryCandidates() []string {
	var c []string
	if p := os.Getenv(LibraryEnv); p != "" {
		c = append(c, p)
	}
	if exe, err := os.Executable(); err == nil {
		d := filepath.Dir(exe)
		c = append(c, filepath.Join(d, libName), filepath.Join(d, "..", "lib", libName),
			filepath.Join(d, "..", ".cache", "onnxruntime", libName))
	}
	c = append(c, config.SearchUp(filepath.Join(".cache", "onnxruntime", libName))...)
	return append(c, "/usr/local/lib/"+libName, "/usr/lib/"+libName, "/usr/lib/x86_64-linux-gnu/"+libName)
}

// FindLibrary returns the first existing candidate of LibraryCandidates.
func FindLibrary() (string, error) {
	cands := LibraryCandidates()
	if p := os.Getenv(LibraryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("onnxruntime: %s=%s: %w", LibraryEnv, p, err)
		}
		return p, nil
	}
	for _, p := range cands {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("onnxruntime: %s not found (run `make setup`, or set %s); looked in %v", libName, LibraryEnv, cands)
}

// Init loads the ONNX Runtime shared library and creates the process-wide
// environment. It is safe to call many times; only the first call does work.
func Init() error {
	initOnce.Do(func() {
		p, err := FindLibrary()
		if err != nil {
			initErr = err
			return
		}
		ort.SetSharedLibraryPath(p)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("onnxruntime: initialize %s: %w", p, err)
			return
		}
		initPath = p
	})
	return initErr
}

// RuntimeInfo describes the loaded ONNX Runtime.
func RuntimeInfo() (version, path string, err error) {
	if err := Init(); err != nil {
		return "", "", err
	}
	return ort.GetVersion(), initPath, nil
}

var errNoCUDA = errors.New("no usable CUDA execution provider")
