/* Runs several commands in turns, N rounds, and prints each one's median
 * wall time: on a machine whose speed drifts, commands measured in turns see
 * the same machine, where hyperfine's blocks (all runs of one, then all of
 * the next) may not. Output goes to /dev/null; a failed run is reported.
 * Usage: interleave N CMD1... [-- CMD2...]...   (GAP_MS=k: sleep k ms before
 * each run, so that work a command leaves behind does not land on the next) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double run(char **argv, int null) {
  struct timespec s, e;
  clock_gettime(CLOCK_MONOTONIC, &s);
  pid_t p = fork();
  if (p == 0) {
    dup2(null, 1);
    dup2(null, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  int st = 0;
  waitpid(p, &st, 0);
  clock_gettime(CLOCK_MONOTONIC, &e);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fprintf(stderr, "%s: exit status %d\n", argv[0], st);
  return (e.tv_sec - s.tv_sec) * 1e3 + (e.tv_nsec - s.tv_nsec) / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: interleave N CMD... [-- CMD...]...\n");
    return 2;
  }
  int n = atoi(argv[1]), nc = 0;
  char **cmds[32];
  cmds[nc++] = &argv[2];
  for (int i = 2; i < argc && nc < 32; i++)
    if (!strcmp(argv[i], "--")) {
      argv[i] = NULL;
      cmds[nc++] = &argv[i + 1];
    }
  int gap = getenv("GAP_MS") ? atoi(getenv("GAP_MS")) : 0;
  int null = open("/dev/null", O_WRONLY);
  double *t = calloc((size_t)n * nc, sizeof *t);
  for (int w = 0; w < 5; w++)
    for (int c = 0; c < nc; c++)
      run(cmds[c], null);
  for (int i = 0; i < n; i++)
    for (int c = 0; c < nc; c++) {
      if (gap)
        usleep(gap * 1000);
      t[c * n + i] = run(cmds[c], null);
    }
  for (int c = 0; c < nc; c++) {
    double *v = &t[c * n];
    qsort(v, n, sizeof *v, by_value);
    printf("%d: median %.3f ms  p25 %.3f  p75 %.3f  ", c + 1, v[n / 2], v[n / 4], v[3 * n / 4]);
    for (char **a = cmds[c]; *a; a++)
      printf("%s%s", a == cmds[c] ? "" : " ", *a);
    printf("\n");
  }
  return 0;
}
