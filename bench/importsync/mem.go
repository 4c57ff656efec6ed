package main

import (
	"bytes"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
	"time"
)

// memWatch samples the Go runtime's memory while a phase runs, to tell how
// much of the phase's peak RSS is Go's (the rest is SQLite's, whose memory
// the Go runtime does not see), and keeps a heap profile taken near the
// peak of Go's heap (written to file at the end, when file is set).
type memWatch struct {
	file       string
	stop, done chan struct{}
	peakGo     uint64 // the most memory Go held from the system, less what it returned
	peakHeap   uint64 // the most bytes in heap objects
	prof       bytes.Buffer
}

var memSamples = []metrics.Sample{
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
}

func watchMem(file string) *memWatch {
	w := &memWatch{file: file, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			w.sample()
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *memWatch) sample() {
	metrics.Read(memSamples)
	held := memSamples[0].Value.Uint64() - memSamples[1].Value.Uint64()
	heap := memSamples[2].Value.Uint64()
	w.peakGo = max(w.peakGo, held)
	// A new profile only when the heap has grown by 8 MiB since the last
	// one: taking it costs a few milliseconds.
	if w.file != "" && heap > w.peakHeap+8<<20 {
		w.peakHeap = heap
		w.prof.Reset()
		_ = pprof.Lookup("heap").WriteTo(&w.prof, 0)
	}
}

// end stops sampling, writes the profile and returns Go's peak.
func (w *memWatch) end() uint64 {
	close(w.stop)
	<-w.done
	if w.file != "" {
		check(os.WriteFile(w.file, w.prof.Bytes(), 0o644)) // #nosec G306 -- a benchmark's heap profile, for whoever runs it to read
	}
	return w.peakGo
}

// usage is what the process has used so far: CPU time, user and system
// (on a shared machine a phase's CPU time varies less than its wall time;
// SQLite runs in the process, PostgreSQL's work is not counted), system
// CPU time, and minor page faults (on a virtual machine each costs
// microseconds, and a sync that fills fresh memory pays for every page of
// it).
type usage struct {
	cpu, sys time.Duration
	faults   int64
}

func usageNow() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	return usage{time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano()), ru.Minflt}
}
