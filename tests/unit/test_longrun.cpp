// Long runs, faults and outputs (docs/robustness.md): a run killed with SIGKILL leaves a readable trace; SIGTERM
// writes a checkpoint and `cadyn run --resume` finishes the run as if it had not stopped; solver trouble is named
// (variable, time, what went wrong, what to try) with exit status 3; a run that cannot fit in memory is refused
// up front with exit status 2; no output is left half-written under its final name.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cadyn/io/checkpoint.hpp>
#include <cadyn/io/csv.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>

extern char** environ;

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

const fs::path data_dir = fs::path(CADYN_TEST_DATA) / "longrun";

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// A fresh path in the temporary folder, unique to this process and test.
fs::path fresh_path(const std::string& name) {
    const auto path = fs::temp_directory_path() / ("cadyn_longrun_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    return path;
}

// The cadyn binary as a child process: stdout and stderr to files, extra environment variables.
class child {
public:
    child(const std::vector<std::string>& args, const std::string& name,
          const std::map<std::string, std::string>& env = {}):
        out_(fresh_path(name + "_stdout")), err_(fresh_path(name + "_stderr")) {
        std::vector<std::string> argv_text = {CADYN_BINARY};
        argv_text.insert(argv_text.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a: argv_text) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        std::vector<std::string> env_text;
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string entry = *e;
            if (!env.contains(entry.substr(0, entry.find('=')))) {
                env_text.push_back(entry);
            }
        }
        for (const auto& [k, v]: env) {
            env_text.push_back(k + "=" + v);
        }
        std::vector<char*> envp;
        for (auto& e: env_text) {
            envp.push_back(e.data());
        }
        envp.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            pid_ = -1;
        }
    }
    ~child() {
        if (pid_ > 0 && !waited_) {
            ::kill(pid_, SIGKILL);
            wait();
        }
        fs::remove(out_);
        fs::remove(err_);
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    bool started() const { return pid_ > 0; }
    void signal(int signo) const { ::kill(pid_, signo); }

    // The exit status, or minus the signal that ended the process.
    int wait() {
        int raw = 0;
        while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
        }
        waited_ = true;
        return WIFEXITED(raw) ? WEXITSTATUS(raw) : WIFSIGNALED(raw) ? -WTERMSIG(raw) : -1000;
    }
    // Whether the process has ended (then wait() returns at once); it stays a zombie until wait().
    bool finished() const {
        siginfo_t info{};
        return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == pid_;
    }
    std::string out() const { return read_text(out_); }
    std::string err() const { return read_text(err_); }

private:
    fs::path out_;
    fs::path err_;
    pid_t pid_ = -1;
    bool waited_ = false;
};

struct run_result {
    int status;
    std::string out;
    std::string err;
};

run_result run_cadyn(const std::vector<std::string>& args, const std::string& name,
                     const std::map<std::string, std::string>& env = {}) {
    child c(args, name, env);
    if (!c.started()) {
        return {-1, "", "could not start " + std::string(CADYN_BINARY)};
    }
    const int status = c.wait();
    return {status, c.out(), c.err()};
}

std::size_t count_newlines(const fs::path& path) {
    const auto text = read_text(path);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Wait until `path` has at least `lines` newlines, or the child has ended. The deadline only keeps a broken
// build from hanging the test; nothing is asserted about how long it takes.
bool wait_for_lines(child& c, const fs::path& path, std::size_t lines) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        if (fs::exists(path) && count_newlines(path) >= lines) {
            return true;
        }
        if (c.finished()) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

struct table {
    std::vector<std::string> header;
    std::vector<std::vector<double>> rows;
    std::string unfinished;  // what follows the last newline (a row cut short by SIGKILL), usually nothing
};

// Parse a traces CSV strictly: every line ended by a newline must be a row of as many numbers as the header has
// names; what follows the last newline is kept aside.
table read_csv(const fs::path& path) {
    table t;
    auto text = read_text(path);
    const auto last = text.rfind('\n');
    t.unfinished = text.substr(last == std::string::npos ? 0 : last + 1);
    text.resize(text.size() - t.unfinished.size());
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);
    std::stringstream h(line);
    for (std::string name; std::getline(h, name, ',');) {
        t.header.push_back(name);
    }
    while (std::getline(in, line)) {
        std::vector<double> row;
        std::stringstream r(line);
        for (std::string cell; std::getline(r, cell, ',');) {
            char* end = nullptr;
            row.push_back(std::strtod(cell.c_str(), &end));
            EXPECT_TRUE(end != cell.c_str() && *end == '\0') << "not a number: '" << cell << "' in " << path;
        }
        EXPECT_EQ(row.size(), t.header.size()) << "row " << t.rows.size() + 1 << " of " << path << ": " << line;
        t.rows.push_back(std::move(row));
    }
    return t;
}

// Every column at every row agrees to `rel` of the value, with a floor of 1e-3 of the column's largest magnitude
// (a flux crossing zero has no meaningful relative error there). Times must be identical.
void expect_same_traces(const table& a, const table& b, double rel) {
    EXPECT_EQ(a.unfinished, "");
    EXPECT_EQ(b.unfinished, "");
    ASSERT_EQ(a.header, b.header);
    ASSERT_EQ(a.rows.size(), b.rows.size());
    for (std::size_t k = 0; k < a.header.size(); ++k) {
        double scale = 0;
        for (const auto& r: a.rows) {
            scale = std::max(scale, std::abs(r[k]));
        }
        double worst = 0;
        std::size_t at = 0;
        for (std::size_t i = 0; i < a.rows.size(); ++i) {
            const double x = a.rows[i][k];
            const double y = b.rows[i][k];
            if (k == 0) {
                ASSERT_EQ(x, y) << "row " << i;
                continue;
            }
            const double e = std::abs(x - y) / std::max({std::abs(x), std::abs(y), 1e-3 * scale, 1e-300});
            if (e > worst) {
                worst = e;
                at = i;
            }
        }
        EXPECT_LE(worst, rel) << a.header[k] << " at t = " << a.rows[at][0] << " ms: " << a.rows[at][k] << " vs "
                              << b.rows[at][k];
    }
}

std::map<std::string, double> read_budget(const fs::path& path) {
    std::map<std::string, double> amounts;
    std::istringstream in(read_text(path));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream s(line);
        for (std::string c; std::getline(s, c, ',');) {
            cells.push_back(c);
        }
        if (cells.size() >= 7) {
            amounts[cells[0] + "/" + cells[2] + "/" + cells[4]] = std::stod(cells[6]);
        }
    }
    return amounts;
}

cadyn::system compile_file(const fs::path& path) { return cadyn::compile(cadyn::read_model_file(path)); }

} // namespace

// ---------------------------------------------------------------------------------------------------------------
// Stop and continue, in process: the state a stopped run returns, through a checkpoint file, continues the run.

namespace {

struct in_process_run {
    cadyn::simulation_result result;
    std::vector<double> times;
    std::vector<std::vector<double>> columns;  // every observable
};

// Run long_train.toml to t_end, stopping after `stop_after` output steps (0: never) and continuing from a
// checkpoint written to and read back from a file, in a system compiled afresh (as a new process would).
in_process_run run_train(double t_end, long stop_after, const fs::path& checkpoint_file) {
    in_process_run r;
    auto sys = compile_file(data_dir / "long_train.toml");
    cadyn::memory_recorder first;
    cadyn::simulation_options options;
    options.t_end = t_end;
    long steps = 0;
    if (stop_after > 0) {
        options.should_stop = [&steps, stop_after] { return ++steps == stop_after; };
    }
    r.result = cadyn::simulate(sys, first, options);
    r.times = first.times();
    for (const auto& o: first.observables()) {
        r.columns.push_back(first.column(o.name));
    }
    if (!r.result.interrupted) {
        return r;
    }
    EXPECT_EQ(r.result.state.records, r.times.size());
    cadyn::write_checkpoint(checkpoint_file, {"long_train.toml", "0123456789abcdef", r.result.state, {}});
    const auto saved = cadyn::read_checkpoint(checkpoint_file);
    auto fresh = compile_file(data_dir / "long_train.toml");
    cadyn::memory_recorder second;
    cadyn::simulation_options more;
    more.resume = saved.state;
    r.result = cadyn::simulate(fresh, second, more);
    EXPECT_FALSE(r.result.interrupted);
    r.times.insert(r.times.end(), second.times().begin(), second.times().end());
    for (std::size_t k = 0; k < r.columns.size(); ++k) {
        const auto& c = second.column(second.observables()[k].name);
        r.columns[k].insert(r.columns[k].end(), c.begin(), c.end());
    }
    return r;
}

void expect_same_runs(const in_process_run& a, const in_process_run& b, double rel) {
    ASSERT_EQ(a.times, b.times);
    for (std::size_t k = 0; k < a.columns.size(); ++k) {
        double scale = 0;
        for (const double v: a.columns[k]) {
            scale = std::max(scale, std::abs(v));
        }
        for (std::size_t i = 0; i < a.times.size(); ++i) {
            const double x = a.columns[k][i];
            const double y = b.columns[k][i];
            ASSERT_LE(std::abs(x - y), rel * std::max({std::abs(x), std::abs(y), 1e-3 * scale}))
                << "column " << k << " at t = " << a.times[i] << " ms";
        }
    }
    ASSERT_EQ(a.result.budget.size(), b.result.budget.size());
    for (std::size_t c = 0; c < a.result.budget.size(); ++c) {
        EXPECT_NEAR(a.result.budget[c], b.result.budget[c], 1e-6 * std::abs(a.result.budget[c]) + 1e-9)
            << "budget channel " << c;
    }
    for (std::size_t i = 0; i < a.result.y_end.size(); ++i) {
        EXPECT_NEAR(a.result.y_end[i], b.result.y_end[i], 1e-5 * std::abs(a.result.y_end[i]) + 1e-9) << "state " << i;
    }
}

} // namespace

TEST(longrun, stopped_and_continued_run_equals_an_uninterrupted_one) {
    // long_train: a stable cell under a 5 Hz pulse train, SERCA blocked by an event at 10 s. Stopping before the
    // event (the continued run must still apply it) and after it (the continued system must be told it happened:
    // were it forgotten SERCA would pump again and the traces would part by far more than the tolerance).
    const auto file = fresh_path("checkpoint_in_process");
    const double t_end = 12000;
    const auto whole = run_train(t_end, 0, file);
    ASSERT_FALSE(whole.result.interrupted);
    EXPECT_EQ(whole.times.size(), 12001U);
    for (const long stop_after: {3000L, 10500L}) {
        const auto parts = run_train(t_end, stop_after, file);
        SCOPED_TRACE("stopped after " + std::to_string(stop_after) + " output steps");
        expect_same_runs(whole, parts, 1e-5);
        EXPECT_EQ(parts.result.stats.restarts, whole.result.stats.restarts);
    }
    fs::remove(file);
}

TEST(simulate, a_pulse_delivers_exactly_its_charge) {
    // BDF evaluates the right-hand side at the end of each step; the step that lands on a pulse edge must see the
    // pulse as it was during the step (its left limit), or each pulse gains or loses (last step) x (current)
    // depending on the step size. 10 pulses of 100 pA for 2 ms carry 10 x 100 pA x 2 ms / (2 F) = 10.3643 amol.
    auto model = cadyn::parse_model(R"(format_version = 1
[[compartments]]
name = "bath"
volume = "1 nL"
clamped = true
concentrations = { ca = "2 mM" }
[[compartments]]
name = "cyt"
radius = "5 um"
concentrations = { ca = "0.1 uM" }
[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"
[[mechanisms]]
type = "pmca"
membrane = "pm"
[[mechanisms]]
name = "spikes"
type = "pulse_train"
membrane = "pm"
amplitude = "100 pA"
start = "100.5 ms"
duration = "2 ms"
frequency = "20 Hz"
count = 10
[run]
t_end = "1 s"
[record]
interval = "1 ms"
)",
                                    "<pulses>");
    auto sys = cadyn::compile(std::move(model));
    cadyn::memory_recorder rec;
    const auto r = cadyn::simulate(sys, rec);
    const double faraday = 96485.33212;                          // C/mol
    const double expected = 10 * 100e-12 * 2e-3 / (2 * faraday);  // mol
    const auto& channels = sys.flux_channels();
    bool found = false;
    for (std::size_t c = 0; c < channels.size(); ++c) {
        if (channels[c].mechanism == "spikes") {
            found = true;
            EXPECT_NEAR(r.budget[c] * 1e-21, expected, 1e-9 * expected);  // zmol -> mol
        }
    }
    EXPECT_TRUE(found);
}

TEST(longrun, stop_request_returns_the_state_and_flushes) {
    auto sys = compile_file(data_dir / "long_train.toml");
    struct counting: cadyn::recorder {
        int begun = 0, ended = 0, flushed = 0;
        std::size_t rows = 0;
        void begin(const std::vector<cadyn::observable_info>&) override { ++begun; }
        void record(double, std::span<const double>) override { ++rows; }
        void end() override { ++ended; }
        void flush() override { ++flushed; }
    } rec;
    cadyn::simulation_options options;
    options.t_end = 5000;
    int calls = 0;
    options.should_stop = [&calls] { return ++calls == 100; };
    const auto r = cadyn::simulate(sys, rec, options);
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(rec.flushed, 1);
    EXPECT_EQ(rec.ended, 0);  // not finished: traces.csv must stay .partial
    EXPECT_EQ(r.state.records, rec.rows);
    EXPECT_GT(r.state.t, 0);
    EXPECT_LT(r.state.t, 5000);
    EXPECT_EQ(r.state.y.size(), sys.size() + sys.flux_channels().size());
    EXPECT_EQ(r.state.t_end, 5000);
    ASSERT_TRUE(r.state.rest.has_value());  // long_train starts from its resting state
}

TEST(checkpoint, round_trips_every_number_exactly) {
    cadyn::checkpoint c;
    c.model_source = "/some where/model.toml";
    c.model_hash = cadyn::model_hash("format_version = 1\n");
    auto& s = c.state;
    s.t = 1234.5678901234567;
    s.t_end = 1e6 / 3;
    s.y0 = {0.1, 1.0 / 3, 1e-300, -0.0, 123456789.123456789};
    s.y = {std::nextafter(1.0, 2.0), -7.25e-17, 5e-324};
    s.next_record = 12346;
    s.next_break = 17;
    s.records = 12346;
    s.rest = cadyn::steady_state{s.y0, true, "time integration + KINSOL", 2.5e-13};
    s.stats = {11, 22, 33, 44, 55, 66};
    const auto file = fresh_path("roundtrip");
    cadyn::write_checkpoint(file, c);
    EXPECT_FALSE(fs::exists(file.string() + ".partial"));
    const auto r = cadyn::read_checkpoint(file);
    EXPECT_EQ(r.model_source, c.model_source);
    EXPECT_EQ(r.model_hash, c.model_hash);
    EXPECT_EQ(r.state.t, s.t);
    EXPECT_EQ(r.state.t_end, s.t_end);
    EXPECT_EQ(r.state.y0, s.y0);
    EXPECT_EQ(r.state.y, s.y);
    EXPECT_TRUE(std::signbit(r.state.y0[3]));
    EXPECT_EQ(r.state.next_record, s.next_record);
    EXPECT_EQ(r.state.next_break, s.next_break);
    EXPECT_EQ(r.state.records, s.records);
    ASSERT_TRUE(r.state.rest.has_value());
    EXPECT_EQ(r.state.rest->method, "time integration + KINSOL");
    EXPECT_EQ(r.state.rest->residual, 2.5e-13);
    EXPECT_TRUE(r.state.rest->converged);
    EXPECT_EQ(r.state.stats.steps, 11);
    EXPECT_EQ(r.state.stats.restarts, 66);
    EXPECT_TRUE(r.settings.empty());
    fs::remove(file);

    // `--set` values (version 2): kept in order, spaces, '=' and unit text as typed; keys and values with a tab or a
    // line break cannot be written.
    c.settings = {{"pmca.vmax", "2 uM/s"}, {"parameters.k", "a=b x"}, {"seed", "7"}};
    cadyn::write_checkpoint(file, c);
    const auto with = cadyn::read_checkpoint(file);
    EXPECT_EQ(with.settings, c.settings);
    EXPECT_EQ(with.state.y, s.y);
    c.settings = {{"pmca.vmax", "2\tuM/s"}};
    EXPECT_THROW(cadyn::write_checkpoint(file, c), cadyn::output_error);
    fs::remove(file);
}

TEST(checkpoint, refuses_other_versions_truncation_and_garbage) {
    const auto file = fresh_path("bad_checkpoint");
    const auto message = [&file](const std::string& text) {
        std::ofstream(file) << text;
        try {
            cadyn::read_checkpoint(file);
        }
        catch (const cadyn::error& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_THAT(message("cadyn-checkpoint 3\nend\n"),
                HasSubstr("this build reads 'cadyn-checkpoint 1' to 'cadyn-checkpoint 2'"));
    EXPECT_THAT(message("cadyn-checkpoint 2\nmodel_source \nmodel_hash 0\nsettings pmca.vmax\nend\n"),
                HasSubstr("setting 'pmca.vmax' is not KEY=VALUE"));
    EXPECT_THAT(message("hello\n"), HasSubstr("does not start with 'cadyn-checkpoint'"));
    EXPECT_THAT(message("cadyn-checkpoint 1\nmodel_source \nmodel_hash 0\nt 0x1p+0\n"), HasSubstr("truncated"));
    EXPECT_THAT(message("cadyn-checkpoint 1\nmodel_source \nmodel_hash 0\nt_end 1\nt 0.5\nnext_record 1\n"
                        "next_break 0\nrecords 1\ny0 2 1 2\ny 1 x\nrest none\nstats 0 0 0 0 0 0\nend\n"),
                HasSubstr("'y' has a value that is not a number: 'x'"));
    EXPECT_THAT(message("cadyn-checkpoint 1\nmodel_source \nmodel_hash 0\nt_end 1\nt 0.5\nnext_record 1\n"
                        "next_break 0\nrecords 1\ny0 3 1 2\ny 0\nrest none\nstats 0 0 0 0 0 0\nend\n"),
                HasSubstr("'y0' announces 3 values and has 2"));
    fs::remove(file);
    EXPECT_THAT(message(""), Not(HasSubstr("accepted")));
    fs::remove(file);
    try {
        cadyn::read_checkpoint(fresh_path("no_such_checkpoint"));
        ADD_FAILURE() << "a missing checkpoint was accepted";
    }
    catch (const cadyn::error& e) {
        EXPECT_THAT(e.what(), HasSubstr("no checkpoint at"));
    }
}

TEST(checkpoint, model_hash_sees_any_change) {
    EXPECT_EQ(cadyn::model_hash("a = 1\n"), cadyn::model_hash("a = 1\n"));
    EXPECT_NE(cadyn::model_hash("a = 1\n"), cadyn::model_hash("a = 2\n"));
    EXPECT_NE(cadyn::model_hash("a = 1\n"), cadyn::model_hash("a = 1\n#\n"));
    EXPECT_EQ(cadyn::model_hash("").size(), 16U);
}

// ---------------------------------------------------------------------------------------------------------------
// The CSV recorder and atomic files.

TEST(csv_recorder, every_flush_writes_whole_rows_and_a_stop_flushes) {
    const auto dir = fresh_path("csv_rows");
    fs::create_directories(dir);
    const std::vector<cadyn::observable_info> obs = {{"cyt.ca", "uM"}, {"fluo4.F_F0", ""}};
    {
        cadyn::csv_recorder csv(dir / "traces.csv", 3600.0);  // no time-based flush within this test
        csv.begin(obs);
        EXPECT_EQ(read_text(dir / "traces.csv.partial"), "t [ms],cyt.ca [uM],fluo4.F_F0\n");
        const std::vector<double> v = {0.1, 1.5};
        csv.record(0, v);
        csv.record(1, v);
        EXPECT_EQ(count_newlines(dir / "traces.csv.partial"), 1U);  // buffered
        csv.flush();                                                // what a stop request does
        EXPECT_EQ(read_text(dir / "traces.csv.partial"), "t [ms],cyt.ca [uM],fluo4.F_F0\n0,0.1,1.5\n1,0.1,1.5\n");
        csv.record(2, v);
    }
    // Destroyed without end(): what was buffered is written, and the file keeps its .partial name.
    EXPECT_EQ(count_newlines(dir / "traces.csv.partial"), 4U);
    EXPECT_FALSE(fs::exists(dir / "traces.csv"));
    fs::remove_all(dir);
}

TEST(csv_recorder, a_record_waits_at_most_flush_seconds) {
    const auto dir = fresh_path("csv_timed");
    fs::create_directories(dir);
    cadyn::csv_recorder csv(dir / "traces.csv", 0.05);
    csv.begin({{"cyt.ca", "uM"}});
    const std::vector<double> v = {0.1};
    csv.record(0, v);
    // However busy the machine, once flush_seconds have passed the next record goes to the file with the rows
    // before it.
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    csv.record(1, v);
    EXPECT_EQ(read_text(dir / "traces.csv.partial"), "t [ms],cyt.ca [uM]\n0,0.1\n1,0.1\n");
    csv.end();
    EXPECT_EQ(read_text(dir / "traces.csv"), "t [ms],cyt.ca [uM]\n0,0.1\n1,0.1\n");
    fs::remove_all(dir);
}

// Enough rows that the writing thread formats and writes most of them (batches of 8192 numbers) while more are
// recorded: the file has every row, in order, each number reading back to the same double, in fmt's "{}" text.
TEST(csv_recorder, rows_written_by_the_writing_thread_read_back_exactly_and_in_order) {
    const auto dir = fresh_path("csv_thread");
    fs::create_directories(dir);
    const std::vector<cadyn::observable_info> obs = {{"a", "uM"}, {"b", ""}, {"c", "ms"}};
    std::vector<std::vector<double>> rows;
    {
        cadyn::csv_recorder csv(dir / "traces.csv", 3600.0);
        csv.begin(obs);
        for (int i = 0; i < 20000; ++i) {
            // Magnitudes from 1e-300 to 1e300, both signs, zeros, integers and thirds.
            const double x = std::ldexp(1.0 + i / 7.0, (i * 37) % 1980 - 990) * (i % 3 == 0 ? -1 : 1);
            rows.push_back({i * 0.1, x, i % 11 == 0 ? 0.0 : i / 3.0, static_cast<double>(i)});
            csv.record(rows.back()[0], std::span<const double>(rows.back()).subspan(1));
        }
        csv.end();
    }
    std::ifstream in(dir / "traces.csv");
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "t [ms],a [uM],b,c [ms]");
    std::size_t n = 0;
    while (std::getline(in, line)) {
        ASSERT_LT(n, rows.size());
        EXPECT_EQ(line, fmt::format("{},{},{},{}", rows[n][0], rows[n][1], rows[n][2], rows[n][3])) << "row " << n;
        std::stringstream fields(line);
        std::string field;
        for (std::size_t k = 0; std::getline(fields, field, ','); ++k) {
            ASSERT_EQ(std::strtod(field.c_str(), nullptr), rows[n][k]) << "row " << n << " column " << k;
        }
        ++n;
    }
    EXPECT_EQ(n, rows.size());
    fs::remove_all(dir);
}

// A write of the writing thread that fails (here past a file size limit, as on a full disk) is an output_error
// naming the file, thrown in the recording thread by a later record(), flush() or end().
TEST(csv_recorder, a_failed_write_of_the_writing_thread_is_an_output_error) {
    const auto dir = fresh_path("csv_full");
    fs::create_directories(dir);
    const auto run = [&dir] {
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &limit);
        try {
            cadyn::csv_recorder csv(dir / "traces.csv", 3600.0);
            csv.begin({{"cyt.ca", "uM"}});
            const std::vector<double> v = {1.0 / 3.0};
            for (int i = 0; i < 100000; ++i) {  // ~2.5 MB
                csv.record(i / 7.0, v);
            }
            csv.end();
        }
        catch (const cadyn::output_error& e) {
            std::cerr << "output_error: " << e.what() << std::endl;
            std::exit(4);
        }
        std::exit(1);
    };
    EXPECT_EXIT(run(), testing::ExitedWithCode(4), "output_error: writing '.*traces\\.csv\\.partial' failed: .*too large");
    EXPECT_FALSE(fs::exists(dir / "traces.csv"));
    fs::remove_all(dir);
}

TEST(csv_recorder, resume_appends_after_the_checkpointed_rows) {
    const auto dir = fresh_path("csv_resume");
    fs::create_directories(dir);
    const std::vector<cadyn::observable_info> obs = {{"cyt.ca", "uM"}};
    const auto partial = dir / "traces.csv.partial";
    // Two rows more than the checkpoint knows of, the last one cut short.
    std::ofstream(partial) << "t [ms],cyt.ca [uM]\n0,1\n1,2\n2,3\n3,4\n4,";
    {
        cadyn::csv_recorder csv(dir / "traces.csv", 0.0);
        csv.resume(obs, 3);
        EXPECT_EQ(csv.rows(), 3U);
        const std::vector<double> v = {9};
        csv.record(3, v);
        csv.end();
    }
    EXPECT_EQ(read_text(dir / "traces.csv"), "t [ms],cyt.ca [uM]\n0,1\n1,2\n2,3\n3,9\n");
    EXPECT_FALSE(fs::exists(partial));

    std::ofstream(partial) << "t [ms],cyt.ca [uM]\n0,1\n";
    cadyn::csv_recorder short_file(dir / "traces.csv", 0.0);
    EXPECT_THROW(short_file.resume(obs, 3), cadyn::error);  // rows are missing: cannot continue
    cadyn::csv_recorder other(dir / "traces.csv", 0.0);
    EXPECT_THROW(other.resume({{"er.ca", "uM"}}, 1), cadyn::error);  // another model's columns
    fs::remove_all(dir);
}

TEST(csv_recorder, replay_reads_back_what_was_written) {
    const auto file = fresh_path("replay.csv");
    std::ofstream(file) << "t [ms],cyt.ca [uM],fluo4.F_F0\n0,0.1,1\n5,0.25,2.5\n10,0.3,";
    cadyn::memory_recorder rec;
    cadyn::replay_csv(file, rec);
    ASSERT_EQ(rec.observables().size(), 2U);
    EXPECT_EQ(rec.observables()[0].name, "cyt.ca");
    EXPECT_EQ(rec.observables()[0].unit, "uM");
    EXPECT_EQ(rec.observables()[1].unit, "");
    EXPECT_EQ(rec.times(), (std::vector<double>{0, 5}));  // the unfinished last line is not a row
    EXPECT_EQ(rec.column("cyt.ca"), (std::vector<double>{0.1, 0.25}));
    std::ofstream(file) << "t [ms],cyt.ca [uM]\n0,abc\n";
    EXPECT_THROW(cadyn::replay_csv(file, rec), cadyn::error);
    fs::remove(file);
}

TEST(outputs, write_atomically_replaces_whole_files_or_nothing) {
    const auto dir = fresh_path("atomic");
    fs::create_directories(dir);
    cadyn::write_atomically(dir / "summary.txt", "first\n");
    cadyn::write_atomically(dir / "summary.txt", "second\n");
    EXPECT_EQ(read_text(dir / "summary.txt"), "second\n");
    EXPECT_FALSE(fs::exists(dir / "summary.txt.partial"));
    // A folder that does not exist: an output_error, and nothing appears.
    EXPECT_THROW(cadyn::write_atomically(dir / "missing" / "summary.txt", "x"), cadyn::output_error);
    EXPECT_FALSE(fs::exists(dir / "missing"));
    fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------------------------
// Memory limits.

TEST(limits, estimate_counts_the_dense_matrices_and_the_kept_records) {
    auto sys = compile_file(data_dir / "long_train.toml");
    const double n = static_cast<double>(sys.size() + sys.flux_channels().size());
    const auto e = cadyn::estimate_memory(sys, 1000.0, 16.0);  // record.interval 1 ms: 1002 records at most
    EXPECT_GE(e.solver, 2 * 8 * n * n);  // CVODE's Newton matrix and its saved Jacobian
    EXPECT_LT(e.solver, 1e6);
    EXPECT_EQ(e.rows, 1002);
    EXPECT_EQ(e.records, 1002 * 16.0);
    // The CLI keeps one column of every record in memory, not all of them.
    cadyn::memory_recorder one({"cyt.ca"});
    cadyn::memory_recorder all;
    EXPECT_EQ(one.bytes_per_record(9), 2 * 8 * 2.0);
    EXPECT_EQ(all.bytes_per_record(9), 2 * 8 * 10.0);
    EXPECT_GT(cadyn::available_memory(), 1e6);
}

TEST(limits, a_run_that_cannot_fit_is_refused_before_it_starts) {
    auto sys = compile_file(data_dir / "huge_records.toml");
    cadyn::memory_recorder rec;
    try {
        cadyn::simulate(sys, rec);
        ADD_FAILURE() << "a run of 3.6e12 records kept in memory was started";
    }
    catch (const cadyn::error& e) {
        EXPECT_THAT(e.what(), HasSubstr("3.6e+12 records"));
        EXPECT_THAT(e.what(), HasSubstr("TiB"));
        EXPECT_THAT(e.what(), HasSubstr("is available; refused before starting"));
    }
    EXPECT_TRUE(rec.times().empty());
}

TEST(model_file, run_max_steps_is_a_positive_whole_number) {
    const auto model = cadyn::parse_model("format_version = 1\n[[compartments]]\nname = \"cyt\"\nvolume = \"1 um^3\"\n"
                                          "[run]\nmax_steps = 250\n",
                                          "<test>");
    EXPECT_EQ(model.run.max_steps, 250);
    EXPECT_EQ(cadyn::run_spec{}.max_steps, 1000000);
    for (const char* bad: {"0", "-3", "2.5", "\"many\""}) {
        try {
            cadyn::parse_model(std::string("format_version = 1\n[[compartments]]\nname = \"cyt\"\nvolume = \"1 "
                                           "um^3\"\n[run]\nmax_steps = ") +
                                   bad + "\n",
                               "<test>");
            ADD_FAILURE() << "max_steps = " << bad << " was accepted";
        }
        catch (const cadyn::model_error& e) {
            EXPECT_THAT(e.what(), HasSubstr("run.max_steps")) << bad;
            EXPECT_THAT(e.what(), HasSubstr("positive whole number")) << bad;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The command line: kill, stop, resume, trouble, limits, outputs.

TEST(cli_longrun, sigkill_leaves_a_readable_trace_up_to_the_last_flush) {
    // Default flush policy (at least every second, and every 1 MiB): kill as soon as data rows are on disk.
    const auto dir = fresh_path("sigkill");
    const auto partial = dir / "traces.csv.partial";
    child c({"run", (data_dir / "long_oscillator.toml").string(), "--no-plot", "--out", dir.string()}, "sigkill");
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(wait_for_lines(c, partial, 2)) << c.err();
    c.signal(SIGKILL);
    EXPECT_EQ(c.wait(), -SIGKILL);
    EXPECT_FALSE(fs::exists(dir / "traces.csv"));  // never a finished name for an unfinished trace
    const auto t = read_csv(partial);
    EXPECT_EQ(t.header.at(1), "cyt.ca [uM]");
    ASSERT_GE(t.rows.size(), 1U);
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
        ASSERT_NEAR(t.rows[i][0], 10.0 * static_cast<double>(i), 1e-9) << "record " << i << " every 10 ms";
        ASSERT_GT(t.rows[i][1], 0) << "cyt.ca at row " << i;
    }
    // Rows go out in whole-row batches, but the kernel may cut a write() short when SIGKILL lands during it: then
    // the file ends with the beginning of the next row, without its newline (docs/robustness.md).
    if (!t.unfinished.empty()) {
        const auto fields = std::count(t.unfinished.begin(), t.unfinished.end(), ',') + 1;
        EXPECT_LE(static_cast<std::size_t>(fields), t.header.size()) << t.unfinished;
        if (fields > 1) {
            EXPECT_EQ(std::stod(t.unfinished.substr(0, t.unfinished.find(','))),
                      10.0 * static_cast<double>(t.rows.size()))
                << "the cut row is the next record: " << t.unfinished;
        }
    }
    fs::remove_all(dir);
}

TEST(cli_longrun, sigterm_then_resume_equals_an_uninterrupted_run) {
    // With a value changed on the command line (twice PMCA's capacity): the checkpoint keeps it and the resumed
    // part runs with it, so the whole trace still equals the uninterrupted run's with the same --set.
    const auto model = (data_dir / "long_train.toml").string();
    const std::string pmca = "pmca.vmax=40 pmol/cm^2/s";
    const auto stopped = fresh_path("sigterm");
    const auto whole = fresh_path("sigterm_whole");
    const std::map<std::string, std::string> every_record = {{"CADYN_FLUSH_SECONDS", "0"}};
    // SIGTERM once a few hundred records are on disk. Should the run be done before the signal lands (a very
    // fast or a very busy machine), try again with a longer one.
    std::string t_end;
    int status = 0;
    std::string err;
    for (const char* candidate: {"30 s", "120 s", "480 s"}) {
        fs::remove_all(stopped);
        child c({"run", model, "--t-end", candidate, "--set", pmca, "--no-plot", "--out", stopped.string()},
                "sigterm", every_record);
        ASSERT_TRUE(c.started());
        const bool running = wait_for_lines(c, stopped / "traces.csv.partial", 300);
        c.signal(SIGTERM);
        status = c.wait();
        err = c.err();
        if (running && status != 0) {
            t_end = candidate;
            break;
        }
    }
    ASSERT_FALSE(t_end.empty()) << "every run finished before SIGTERM reached it";
    ASSERT_EQ(status, 128 + SIGTERM) << err;
    EXPECT_THAT(err, HasSubstr("interrupted by SIGTERM at t = "));
    EXPECT_THAT(err, HasSubstr("continue with: cadyn run --resume"));
    ASSERT_TRUE(fs::exists(stopped / "checkpoint"));
    EXPECT_FALSE(fs::exists(stopped / "traces.csv"));
    EXPECT_FALSE(fs::exists(stopped / "budget.csv"));
    const auto saved = cadyn::read_checkpoint(stopped / "checkpoint");
    EXPECT_EQ(count_newlines(stopped / "traces.csv.partial"), saved.state.records + 1);  // header + rows
    ASSERT_EQ(saved.settings.size(), 1U);
    EXPECT_EQ(saved.settings[0].first, "pmca.vmax");
    EXPECT_EQ(saved.settings[0].second, "40 pmol/cm^2/s");

    const auto resumed = run_cadyn({"run", "--resume", stopped.string(), "--no-plot"}, "resume");
    ASSERT_EQ(resumed.status, 0) << resumed.err;
    EXPECT_THAT(resumed.out, HasSubstr("resumed:     from the checkpoint at t = "));
    EXPECT_THAT(resumed.out, HasSubstr("peak cyt.ca"));
    EXPECT_THAT(resumed.out, HasSubstr("set:         pmca.vmax = 40 pmol/cm^2/s"));
    EXPECT_FALSE(fs::exists(stopped / "checkpoint"));
    EXPECT_FALSE(fs::exists(stopped / "traces.csv.partial"));
    EXPECT_TRUE(fs::exists(stopped / "summary.txt"));

    const auto reference =
        run_cadyn({"run", model, "--t-end", t_end, "--set", pmca, "--no-plot", "--out", whole.string()}, "whole");
    ASSERT_EQ(reference.status, 0) << reference.err;
    // A continued run restarts BDF at the checkpoint: equal to the tolerance, not bit for bit.
    expect_same_traces(read_csv(whole / "traces.csv"), read_csv(stopped / "traces.csv"), 1e-5);
    const auto a = read_budget(whole / "budget.csv");
    const auto b = read_budget(stopped / "budget.csv");
    ASSERT_EQ(a.size(), b.size());
    ASSERT_GE(a.size(), 10U);
    for (const auto& [channel, amount]: a) {
        EXPECT_NEAR(b.at(channel), amount, 1e-6 * std::abs(amount) + 1e-6) << channel;
    }
    fs::remove_all(stopped);
    fs::remove_all(whole);
}

TEST(cli_longrun, sigint_writes_a_checkpoint_and_exits_130) {
    const auto dir = fresh_path("sigint");
    child c({"run", (data_dir / "long_oscillator.toml").string(), "--no-plot", "--out", dir.string()}, "sigint",
            {{"CADYN_FLUSH_SECONDS", "0"}});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(wait_for_lines(c, dir / "traces.csv.partial", 50)) << c.err();
    c.signal(SIGINT);
    EXPECT_EQ(c.wait(), 128 + SIGINT) << c.err();
    EXPECT_THAT(c.err(), HasSubstr("interrupted by SIGINT"));
    const auto saved = cadyn::read_checkpoint(dir / "checkpoint");
    EXPECT_EQ(saved.model_source, fs::absolute(data_dir / "long_oscillator.toml").string());
    EXPECT_EQ(saved.model_hash, cadyn::model_hash(read_text(data_dir / "long_oscillator.toml")));
    // Everything up to the checkpoint is on disk: the stop flushed it.
    const auto t = read_csv(dir / "traces.csv.partial");
    EXPECT_EQ(t.rows.size(), saved.state.records);
    EXPECT_EQ(t.unfinished, "");
    fs::remove_all(dir);
}

TEST(cli_longrun, resume_refuses_a_changed_model) {
    // A checkpoint whose model text was different: no process needs to be stopped to make one.
    const auto dir = fresh_path("changed");
    fs::create_directories(dir);
    const auto model = dir / "model.toml";
    fs::copy_file(data_dir / "long_oscillator.toml", model);
    cadyn::checkpoint c;
    c.model_source = model.string();
    c.model_hash = cadyn::model_hash(read_text(model) + "# edited\n");
    c.state.t = 10;
    c.state.t_end = 100;
    c.state.records = 2;
    c.state.next_record = 2;
    cadyn::write_checkpoint(dir / "checkpoint", c);
    const auto r = run_cadyn({"run", "--resume", dir.string()}, "changed");
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.err, HasSubstr("changed since the checkpoint was written"));
    EXPECT_FALSE(fs::exists(dir / "traces.csv.partial"));

    const auto none = run_cadyn({"run", "--resume", (dir / "nothing").string()}, "no_checkpoint");
    EXPECT_EQ(none.status, 2);
    EXPECT_THAT(none.err, HasSubstr("no checkpoint at"));
    const auto both = run_cadyn({"run", model.string(), "--resume", dir.string()}, "both");
    EXPECT_EQ(both.status, 2);  // --resume takes the model from the checkpoint
    fs::remove_all(dir);
}

TEST(cli_longrun, progress_bar_is_quiet_when_stderr_is_not_a_terminal) {
    const auto dir = fresh_path("quiet");
    const auto r = run_cadyn({"run", (data_dir / "long_oscillator.toml").string(), "--t-end", "20 s", "--no-plot",
                              "--out", dir.string()},
                             "quiet");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_THAT(r.out, Not(HasSubstr("\r")));
    fs::remove_all(dir);
}

namespace {

struct trouble_case {
    const char* file;
    std::vector<const char*> expected;  // substrings of the message (docs/robustness.md, "Solver trouble")
};

} // namespace

TEST(cli_longrun, solver_trouble_names_the_variable_the_time_and_what_to_try) {
    const std::vector<trouble_case> cases = {
        {"blowup.toml",
         {"solver error: at t = 1000 ms: step size underflow", "variable: cyt.y (= ",
          "mostly by runaway (reaction)", "Try: the named variable changes faster and faster"}},
        {"nan_rate.toml",
         {"solver error: at t = 999.99", "the derivative of cyt.y is NaN, written by runaway (reaction)",
          "variable: cyt.y", "Try: "}},
        {"drain_negative.toml",
         {"solver error: at t = 11 ms: cyt.ca is negative, -10.", "uM (below -100 x run.atol = -1e-07 uM)",
          "the largest drain now is drain (pulse_train)", "Try: check the mechanisms that remove it",
          "--allow-negative"}},
        {"too_many_steps.toml",
         {"solver error: at t = ", "more than run.max_steps = 200 internal steps were needed",
          "variable: cyt.ca (= ", "times its tolerance", "Try: raise run.max_steps"}},
    };
    for (const auto& c: cases) {
        SCOPED_TRACE(c.file);
        const auto dir = fresh_path("trouble");
        const auto r = run_cadyn({"run", (data_dir / c.file).string(), "--no-plot", "--out", dir.string()}, "trouble");
        EXPECT_EQ(r.status, 3) << r.err;
        for (const char* e: c.expected) {
            EXPECT_THAT(r.err, HasSubstr(e));
        }
        // What was recorded before the trouble is kept, under the unfinished name.
        EXPECT_THAT(r.err, HasSubstr("records up to there are in"));
        EXPECT_TRUE(fs::exists(dir / "traces.csv.partial"));
        EXPECT_FALSE(fs::exists(dir / "traces.csv"));
        EXPECT_FALSE(fs::exists(dir / "summary.txt"));
        fs::remove_all(dir);
    }
    // Opting out of the negative-concentration check lets the drain run to its end.
    const auto dir = fresh_path("allow_negative");
    const auto r = run_cadyn(
        {"run", (data_dir / "drain_negative.toml").string(), "--allow-negative", "--no-plot", "--out", dir.string()},
        "allow");
    EXPECT_EQ(r.status, 0) << r.err;
    fs::remove_all(dir);
}

TEST(cli_longrun, a_model_too_big_for_memory_is_refused_and_writes_nothing) {
    const auto dir = fresh_path("huge");
    const auto r =
        run_cadyn({"run", (data_dir / "huge_records.toml").string(), "--no-plot", "--out", dir.string()}, "huge");
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.err, HasSubstr("error: this run would need about "));
    EXPECT_THAT(r.err, HasSubstr("for 3.6e+12 records kept in memory) but only "));
    EXPECT_THAT(r.err, HasSubstr("refused before starting"));
    EXPECT_FALSE(fs::exists(dir));
}

TEST(cli_longrun, outputs_are_renamed_into_place_and_unwritable_ones_exit_4) {
    const auto dir = fresh_path("outputs");
    const auto r = run_cadyn({"run", (data_dir / "long_oscillator.toml").string(), "--t-end", "2 s", "--out",
                              dir.string()},
                             "outputs");
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> names;
    for (const auto& e: fs::directory_iterator(dir)) {
        names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    // No temporary (.partial, the plot's hidden temporary) and no checkpoint is left behind.
    EXPECT_EQ(names, (std::vector<std::string>{"budget.csv", "plot.png", "results.h5", "summary.txt", "traces.csv"}));

    // An output folder that cannot be made (its parent is a file): exit status 4, "cannot create".
    const auto file = fresh_path("a_file");
    std::ofstream(file) << "x";
    const auto bad = run_cadyn({"run", (data_dir / "long_oscillator.toml").string(), "--t-end", "2 s", "--no-plot",
                                "--out", (file / "sub").string()},
                               "unwritable");
    EXPECT_EQ(bad.status, 4) << bad.err;
    EXPECT_THAT(bad.err, HasSubstr("cannot create the output folder"));
    fs::remove(file);
    fs::remove_all(dir);
}
