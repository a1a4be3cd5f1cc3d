/*
 * The C limits sigchat is measured against (make bench builds this with gcc).
 *
 * Two processes, both pinned to one CPU, signal each other back and forth,
 * with no protocol at all:
 *
 *   kill      the parent kill()s SIGUSR1, the child sigwaitinfo()s it and
 *             kill()s SIGUSR1 back: the 1-bit limit (one bit per round trip).
 *   sigqueue  the same with sigqueue() and a 64-bit si_value that the child
 *             reads: the limit of one turbo word per round trip.
 *   pair      the parent sigqueue()s a SIGUSR1 and a SIGUSR2 word; the child
 *             waits for SIGUSR2 alone, as sigchat's receiver does (so the
 *             SIGUSR1 word, queued first, does not wake it), takes the SIGUSR1
 *             word without waiting and answers once: the limit of two turbo
 *             words per round trip.
 *   triple    as pair, with a third word: a signal sent to a thread
 *             (rt_tgsigqueueinfo) waits in that thread's own pending set,
 *             beside the process's, so a SIGUSR1 word to the child's thread,
 *             a SIGUSR1 word to the process and a SIGUSR2 word to the thread
 *             (the one that wakes it) can all wait at once. A fourth word
 *             (SIGUSR2 to the process) cannot join them: the third one wakes
 *             the child, which on one CPU runs before the parent sends it.
 *             The limit of three words per round trip (sigchat sends two).
 *
 * The child starts a session of its own, as a server started from its own
 * terminal has (autogroup scheduling puts the two in different groups).
 * Prints the round trips per second as a plain number. Usage:
 *   pingpong kill|sigqueue|pair|triple [ROUNDS] [CPU [CHILD_CPU]]
 * CPU: the one both processes run on (default: the highest allowed, where
 * sigchat-server pins its receiver thread); CHILD_CPU: another one for the
 * child, to measure a round trip between two CPUs.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { KILL, SIGQUEUE, PAIR, TRIPLE };

static double seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

static int pin(int cpu)
{
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	if (sched_setaffinity(0, sizeof cpus, &cpus) < 0) {
		perror("pingpong: sched_setaffinity");
		return -1;
	}
	return 0;
}

static int take(const sigset_t *set, siginfo_t *info)
{
	struct timespec timeout = {5, 0};

	return sigtimedwait(set, info, &timeout);
}

static int take_pending(const sigset_t *set, siginfo_t *info)
{
	struct timespec none = {0, 0};

	return sigtimedwait(set, info, &none);
}

/* sigqueue() to one thread of pid (here its only one, pid itself): as glibc's sigqueue, but rt_tgsigqueueinfo. */
static void put_to_thread(pid_t pid, int signo, uint64_t value)
{
	siginfo_t info;

	memset(&info, 0, sizeof info);
	info.si_signo = signo;
	info.si_code = SI_QUEUE;
	info.si_pid = getpid();
	info.si_uid = getuid();
	info.si_value.sival_ptr = (void *)(uintptr_t)value;
	syscall(SYS_rt_tgsigqueueinfo, pid, pid, signo, &info);
}

static void put(pid_t pid, int signo, enum mode mode, uint64_t value)
{
	union sigval sv;

	if (mode == KILL) {
		kill(pid, signo);
		return;
	}
	sv.sival_ptr = (void *)(uintptr_t)value;
	sigqueue(pid, signo, sv);
}

static void child(pid_t parent, long rounds, enum mode mode, const sigset_t *set)
{
	siginfo_t info;
	sigset_t waker;
	uint64_t sum = 0, expected = 0;
	int words = mode == TRIPLE ? 3 : mode == PAIR ? 2 : 1;

	setsid();
	sigemptyset(&waker);
	sigaddset(&waker, SIGUSR2);
	for (long i = 0; i < rounds; i++) {
		if (take(words > 1 ? &waker : set, &info) < 0)
			_exit(1);
		sum += (uintptr_t)info.si_value.sival_ptr;
		for (int word = 1; word < words; word++) {
			if (take_pending(set, &info) < 0)
				_exit(1);  /* a word did not wait for the one that woke the child */
			sum += (uintptr_t)info.si_value.sival_ptr;
		}
		kill(parent, SIGUSR1);
	}
	for (uint64_t value = 1; value <= (uint64_t)rounds * words; value++)
		expected += value;
	_exit(mode != KILL && sum != expected);  /* every value was read, once */
}

int main(int argc, char **argv)
{
	enum mode mode;
	long rounds = argc > 2 ? atol(argv[2]) : 200000;
	cpu_set_t cpus;
	sigset_t set;
	siginfo_t info;
	pid_t pid, parent = getpid();
	int cpu = -1, child_cpu = -1, status;
	double start, elapsed;

	if (argc < 2 || rounds <= 0) {
		fprintf(stderr, "usage: pingpong kill|sigqueue|pair|triple [ROUNDS] [CPU [CHILD_CPU]]\n");
		return 2;
	}
	if (!strcmp(argv[1], "kill"))
		mode = KILL;
	else if (!strcmp(argv[1], "sigqueue"))
		mode = SIGQUEUE;
	else if (!strcmp(argv[1], "pair"))
		mode = PAIR;
	else if (!strcmp(argv[1], "triple"))
		mode = TRIPLE;
	else {
		fprintf(stderr, "pingpong: unknown mode %s\n", argv[1]);
		return 2;
	}
	sched_getaffinity(0, sizeof cpus, &cpus);
	if (argc > 3)
		cpu = atoi(argv[3]);
	if (argc > 4)
		child_cpu = atoi(argv[4]);
	for (int c = CPU_SETSIZE - 1; cpu < 0 && c >= 0; c--)
		if (CPU_ISSET(c, &cpus))
			cpu = c;
	if (pin(cpu) < 0)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);  /* before the fork: the child inherits it */
	pid = fork();
	if (pid == 0) {
		if (child_cpu >= 0 && pin(child_cpu) < 0)
			_exit(1);
		child(parent, rounds, mode, &set);
	}
	start = seconds();
	for (long i = 0; i < rounds; i++) {
		if (mode == TRIPLE) {
			put_to_thread(pid, SIGUSR1, 3 * i + 1);
			put(pid, SIGUSR1, mode, 3 * i + 2);
			put_to_thread(pid, SIGUSR2, 3 * i + 3);
		} else if (mode == PAIR) {
			put(pid, SIGUSR1, mode, 2 * i + 1);
			put(pid, SIGUSR2, mode, 2 * i + 2);
		} else {
			put(pid, SIGUSR1, mode, i + 1);
		}
		if (take(&set, &info) < 0) {
			fprintf(stderr, "pingpong: the partner stopped answering\n");
			kill(pid, SIGKILL);
			return 1;
		}
	}
	elapsed = seconds() - start;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "pingpong: the partner failed\n");
		return 1;
	}
	printf("%.0f\n", rounds / elapsed);
	return 0;
}
