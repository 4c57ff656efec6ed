package main

import (
	"context"
	"iter"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/stewardhq/steward"
)

// progressEvery is how often a long import or sync says how far it is.
var progressEvery = 10 * time.Second

// withProgress counts the records src yields and logs, every progressEvery
// until stop is called, how many have been read, and once the source is
// read through, that the store is still writing. A first import of a
// million identities takes half a minute, a weekly full comparison about
// a minute: without this the command is silent all along. A Skipper stays
// a Skipper, so that a re-import still skips what did not change.
func withProgress(logger *slog.Logger, what string, src steward.Source) (wrapped steward.Source, stop func()) {
	p := &progress{}
	c := counted{src, p}
	wrapped = c
	if sk, ok := src.(steward.Skipper); ok {
		wrapped = countedSkipper{c, sk}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			n, took := p.n.Load(), time.Since(start)
			if p.read.Load() {
				logger.Info("all records read; writing them", "what", what, "records", n, "elapsed", took.Round(time.Second))
			} else {
				logger.Info("reading", "what", what, "records", n, "per_second", int64(float64(n)/took.Seconds()), "elapsed", took.Round(time.Second))
			}
		}
	}()
	return wrapped, func() { close(quit); <-done }
}

type progress struct {
	n    atomic.Int64
	read atomic.Bool // the stream has ended
}

func (p *progress) count(seq iter.Seq2[steward.Record, error]) iter.Seq2[steward.Record, error] {
	return func(yield func(steward.Record, error) bool) {
		// A sync may read its source again from the start: count anew.
		p.n.Store(0)
		p.read.Store(false)
		defer p.read.Store(true)
		for r, err := range seq {
			p.n.Add(1)
			if !yield(r, err) {
				return
			}
		}
	}
}

type counted struct {
	src steward.Source
	p   *progress
}

func (c counted) Read(ctx context.Context) iter.Seq2[steward.Record, error] {
	return c.p.count(c.src.Read(ctx))
}

type countedSkipper struct {
	counted
	sk steward.Skipper
}

func (c countedSkipper) ReadSkipping(ctx context.Context, known steward.KnownFunc) iter.Seq2[steward.Record, error] {
	return c.p.count(c.sk.ReadSkipping(ctx, known))
}
