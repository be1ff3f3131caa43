// SPDX-License-Identifier: MIT
// Death tests: runs a function in a forked child and reports how the child ended and what it
// wrote to stderr, so that a test can check that a detection stops the program with its message.
// POSIX-only (PMRKIT_DEATH_TESTS): Windows has no fork(), and a death test there would have to
// start the test program again for the one case; the death tests are compiled out there.
#pragma once

#ifdef _WIN32
#define PMRKIT_DEATH_TESTS 0
#else
#define PMRKIT_DEATH_TESTS 1

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace pmrkit::test {

struct child_end {
    bool aborted;        // ended by SIGABRT
    std::string stderr_; // everything the child wrote to stderr
    int exit_status;     // the child's exit status if it exited, else -1
};

template <class F>
child_end run_in_child(F&& f) {
    int fds[2];
    if (pipe(fds) != 0) {
        std::abort();
    }
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        // The test framework's crash handler would report the expected abort as a failure.
        std::signal(SIGABRT, SIG_DFL);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        f();
        std::_Exit(0);
    }
    close(fds[1]);
    std::string text;
    char buffer[512];
    for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) {
        text.append(buffer, static_cast<std::size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return {WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, text,
            WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

} // namespace pmrkit::test

#endif
