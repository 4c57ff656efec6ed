package main

import (
	"context"
	"iter"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

// waitFor polls the log until it holds want.
func waitFor(t *testing.T, log *syncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), want); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q:\n%s", want, log.String())
		}
	}
}

type skipperSource struct{ steward.Source }

func (s skipperSource) ReadSkipping(ctx context.Context, _ steward.KnownFunc) iter.Seq2[steward.Record, error] {
	return s.Read(ctx)
}

func TestProgress(t *testing.T) {
	old := progressEvery
	progressEvery = time.Millisecond
	t.Cleanup(func() { progressEvery = old })
	var log syncBuffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	half, rest := make(chan struct{}), make(chan struct{})
	src := steward.SourceFunc(func(context.Context) iter.Seq2[steward.Record, error] {
		return func(yield func(steward.Record, error) bool) {
			for i := range 10 {
				if i == 5 {
					close(half)
					<-rest
				}
				if !yield(steward.Record{Identity: &steward.SourceIdentity{ExternalID: "x", Kind: steward.KindBot}}, nil) {
					return
				}
			}
		}
	})
	wrapped, stop := withProgress(logger, "import test.jsonl", skipperSource{src})
	if _, ok := wrapped.(steward.Skipper); !ok {
		t.Fatal("a Skipper wrapped for progress is no longer a Skipper: re-imports would compare everything")
	}
	read := make(chan int)
	go func() {
		n := 0
		for range wrapped.(steward.Skipper).ReadSkipping(context.Background(), nil) {
			n++
		}
		read <- n
	}()
	<-half
	waitFor(t, &log, "records=5")
	close(rest)
	if n := <-read; n != 10 {
		t.Fatalf("%d records came through, want 10", n)
	}
	waitFor(t, &log, `msg="all records read; writing them" what="import test.jsonl" records=10`)
	stop()
	if _, ok := any(withProgressSource(src)).(steward.Skipper); ok {
		t.Fatal("a plain source wrapped for progress claims to skip")
	}
}

func withProgressSource(src steward.Source) steward.Source {
	wrapped, stop := withProgress(slog.New(slog.DiscardHandler), "x", src)
	stop()
	return wrapped
}
