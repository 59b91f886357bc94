package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTick = 100

// procCPU is the user and system CPU time of process pid (all its threads), from /proc/PID/stat: how the CPU of a
// webhook in a process of its own is read, without the load generator's. Zero when the process is gone.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	_, fields, ok := statFields(string(b))
	if !ok {
		return 0
	}
	return statCPU(fields)
}

// statFields splits a /proc/PID/stat line into the command name and the fields after it (state, ppid, …); comm may
// hold spaces and parentheses, so the fields start after the last ')'.
func statFields(s string) (comm string, fields []string, ok bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", nil, false
	}
	fields = strings.Fields(s[end+1:])
	if len(fields) < 13 {
		return "", nil, false
	}
	return s[open+1 : end], fields, true
}

// statCPU is utime + stime (fields 14 and 15 of the line, 11 and 12 after comm) in USER_HZ ticks.
func statCPU(fields []string) time.Duration {
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTick
}

// childCPU sums the user and system CPU time of this process's children by command name (kube-apiserver, etcd):
// the control plane envtest started.
func childCPU() map[string]time.Duration {
	out := map[string]time.Duration{}
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		comm, fields, ok := statFields(string(b))
		if !ok || fields[1] != self {
			continue
		}
		out[comm] += statCPU(fields)
	}
	return out
}
