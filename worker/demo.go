package main

import (
	"context"
	"errors"
)

func cmdDemo(ctx context.Context, args []string) error {
	return errors.New("worker demo: not built yet")
}
