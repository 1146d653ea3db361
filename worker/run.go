package main

import (
	"context"
	"errors"
)

func cmdRun(ctx context.Context, args []string) error { return errors.New("worker run: not built yet") }

func cmdDemo(ctx context.Context, args []string) error {
	return errors.New("worker demo: not built yet")
}
