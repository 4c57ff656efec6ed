package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What each timed phase cost in CPU, so that a figure taken on a machine
// other work shares can still be read: the CPU time this process (the
// server and its clients) spent per request, PostgreSQL's backends' on
// this database (read from /proc: the server runs on this machine), and
// how busy the machine's CPUs were in all, others' work included. On
// Linux; elsewhere the figures are zero.

// cpuMark is a reading of the counters at one moment.
type cpuMark struct {
	self      time.Duration // this process, user and system
	backends  time.Duration // PostgreSQL's backends on the benchmark's database
	busy, all uint64        // the machine's busy and total CPU ticks (/proc/stat)
}

// cpuUse is what a phase spent, per request.
type cpuUse struct {
	self, backends time.Duration // per request
	machineBusy    float64       // share of the machine's CPUs busy, 0-1
}

func markCPU(dbname string) cpuMark {
	var m cpuMark
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		m.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if dbname != "" {
		m.backends = backendsCPU(dbname)
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		for i := 1; i < len(f) && i <= 8; i++ {
			v, _ := strconv.ParseUint(f[i], 10, 64)
			m.all += v
			if i != 4 && i != 5 { // idle, iowait
				m.busy += v
			}
		}
	}
	return m
}

func (m cpuMark) since(start cpuMark, requests int) cpuUse {
	var u cpuUse
	if requests > 0 {
		u.self = (m.self - start.self) / time.Duration(requests)
		u.backends = (m.backends - start.backends) / time.Duration(requests)
	}
	if m.all > start.all {
		u.machineBusy = float64(m.busy-start.busy) / float64(m.all-start.all)
	}
	return u
}

// clockTick is the unit of /proc/PID/stat's times (USER_HZ): 100 a second
// on every Linux Go runs on.
const clockTick = 10 * time.Millisecond

// backendsCPU sums the user and system time of the PostgreSQL backends
// connected to database dbname, found by their process titles
// ("postgres: USER DBNAME HOST(PORT) STATE").
func backendsCPU(dbname string) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var sum time.Duration
	for _, d := range dirs {
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline")) // #nosec G304 -- /proc
		if err != nil || !strings.HasPrefix(string(cmd), "postgres: ") {
			continue
		}
		f := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
		if len(f) < 3 || f[2] != dbname {
			continue
		}
		st, err := os.ReadFile(filepath.Join(d, "stat")) // #nosec G304 -- /proc
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis: state is
		// the first, utime and stime the 12th and 13th.
		s := string(st)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			s = s[i+1:]
		}
		g := strings.Fields(s)
		if len(g) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(g[11], 10, 64)
		stt, _ := strconv.ParseInt(g[12], 10, 64)
		sum += time.Duration(ut+stt) * clockTick
	}
	return sum
}
