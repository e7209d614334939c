#include <cadyn/error.hpp>
#include <cadyn/units.hpp>

#include <fmt/format.h>
#include <udunits2.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <system_error>
#include <unordered_set>
#include <vector>

namespace cadyn {

namespace {

struct system_deleter {
    void operator()(ut_system* s) const { ut_free_system(s); }
};
struct unit_deleter {
    void operator()(ut_unit* u) const { ut_free(u); }
};
struct converter_deleter {
    void operator()(cv_converter* c) const { cv_free(c); }
};
using system_ptr = std::unique_ptr<ut_system, system_deleter>;
using unit_ptr = std::unique_ptr<ut_unit, unit_deleter>;
using converter_ptr = std::unique_ptr<cv_converter, converter_deleter>;

// UDUNITS-2 is not thread-safe: every call into it happens with this mutex held.
std::mutex udunits_mutex;

std::string_view trim(std::string_view s) {
    constexpr std::string_view space = " \t\n\r\f\v";
    const auto first = s.find_first_not_of(space);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(space) - first + 1);
}

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// "a concentration", "an electric potential".
std::string with_article(std::string_view noun) {
    const bool vowel = !noun.empty() && std::string_view("aeiou").find(noun.front()) != std::string_view::npos;
    return fmt::format("{} {}", vowel ? "an" : "a", noun);
}

std::string expectation(const dimension& d) {
    return fmt::format("expected {}, e.g. '{}'", with_article(d.name), d.example);
}

// UDUNITS reads a number inside a unit as a factor ("mM 2" is 2 mM, "mM.2" too): in user text that is a silent
// mistake. A digit run is accepted only as an exponent (after a letter, '^' or "**", optionally signed: "um^2",
// "s-1"), as the "1" of "1/ms", or as the whole unit "1".
bool has_numeric_factor(std::string_view u) {
    if (u == "1") {
        return false;
    }
    for (std::size_t i = 0; i < u.size(); ++i) {
        if (!is_digit(u[i]) || (i > 0 && is_digit(u[i - 1]))) {
            continue;
        }
        std::size_t j = i;
        if (j > 0 && (u[j - 1] == '+' || u[j - 1] == '-')) {
            --j;
        }
        const bool exponent =
            j > 0 && (is_alpha(u[j - 1]) || u[j - 1] == '^' || (j > 1 && u[j - 1] == '*' && u[j - 2] == '*'));
        if (exponent) {
            continue;
        }
        const auto next = u.find_first_not_of(' ', i + 1);
        if (u[i] == '1' && next != std::string_view::npos && u[next] == '/') {
            continue;
        }
        return true;
    }
    return false;
}

// cadyn's additions to a unit system: the molar, M = mol/L (prefixes apply as to any symbol: "mM", "uM", "nM",
// "pM"), and, in the subset, the symbol degC and name celsius that the whole database defines in its
// udunits2-common.xml (the subset has the unit, degree_Celsius = K @ 273.15, from udunits2-derived.xml).
void add_cadyn_units(ut_system* s, bool subset) {
    const unit_ptr mol{ut_parse(s, "mol", UT_ASCII)};
    const unit_ptr litre{ut_parse(s, "L", UT_ASCII)};
    const unit_ptr molar{mol && litre ? ut_divide(mol.get(), litre.get()) : nullptr};
    if (!molar || ut_map_symbol_to_unit("M", UT_ASCII, molar.get()) != UT_SUCCESS ||
        ut_map_name_to_unit("molar", UT_ASCII, molar.get()) != UT_SUCCESS) {
        throw unit_error("cannot add the molar (M = mol/L) to the UDUNITS-2 unit system");
    }
    if (subset) {
        const unit_ptr celsius{ut_parse(s, "degree_Celsius", UT_ASCII)};
        if (!celsius || ut_map_symbol_to_unit("degC", UT_ASCII, celsius.get()) != UT_SUCCESS ||
            ut_map_name_to_unit("celsius", UT_ASCII, celsius.get()) != UT_SUCCESS) {
            throw unit_error("cannot add degC to the UDUNITS-2 unit system");
        }
    }
}

struct unit_systems {
    system_ptr subset;
    system_ptr full;
    ut_system* current = nullptr;
    // The identifiers the whole database defines beyond the subset (udunits2-common.xml's symbols and names) and
    // the prefixes: a unit that names one, bare or prefixed, is read in the whole database, never in the subset,
    // which would read some of them as something else ("ft" as femtotonne, "yd" as yoctoday, "pt" as picotonne).
    std::unordered_set<std::string> common;
    std::vector<std::string> prefixes;
};

// Call with udunits_mutex held.
unit_systems& systems() {
    static unit_systems loaded;
    return loaded;
}

// The text of every <tag>...</tag> element of an UDUNITS-2 XML file that is a plain ASCII identifier (no entity, no
// space), for the tags given; false when the file cannot be read.
bool xml_identifiers(const std::filesystem::path& file, std::initializer_list<std::string_view> tags,
                     std::vector<std::string>& out) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return false;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto tag: tags) {
        const std::string open = fmt::format("<{}", tag);
        const std::string close = fmt::format("</{}>", tag);
        for (auto at = text.find(open); at != std::string::npos; at = text.find(open, at + 1)) {
            const auto body = text.find('>', at);
            const auto end = body == std::string::npos ? body : text.find(close, body);
            if (end == std::string::npos) {
                break;
            }
            const auto id = trim(std::string_view(text).substr(body + 1, end - body - 1));
            const bool plain = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
                return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
            });
            if (plain) {
                out.emplace_back(id);
            }
        }
    }
    return true;
}

// True when `text` names, bare or after a prefix, an identifier of the whole database that the subset lacks.
bool names_common_unit(const unit_systems& s, std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        if (!is_alpha(text[i]) && text[i] != '_') {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && (is_alpha(text[j]) || text[j] == '_')) {
            ++j;
        }
        const std::string token(text.substr(i, j - i));
        i = j;
        // A symbol or name of the subset itself ("min") means the same in both: UDUNITS-2 looks whole identifiers
        // up before it splits off a prefix ("m" + "in", the inch).
        const unit_ptr exact{ut_get_unit_by_symbol(s.subset.get(), token.c_str())};
        const unit_ptr named{exact ? nullptr : ut_get_unit_by_name(s.subset.get(), token.c_str())};
        if (exact || named) {
            continue;
        }
        if (s.common.count(token) != 0) {
            return true;
        }
        for (const auto& p: s.prefixes) {
            if (token.size() > p.size() && token.compare(0, p.size(), p) == 0 && s.common.count(token.substr(p.size())) != 0) {
                return true;
            }
        }
    }
    return false;
}


system_ptr read_full_database() {
    system_ptr s{ut_read_xml(nullptr)};
    if (!s) {
        const char* path = std::getenv("UDUNITS2_XML_PATH");
        throw unit_error(path != nullptr
                             ? fmt::format("cannot read the UDUNITS-2 unit database '{}' (UDUNITS2_XML_PATH)", path)
                             : std::string("cannot read the UDUNITS-2 unit database; set UDUNITS2_XML_PATH to "
                                           "the path of udunits2.xml"));
    }
    add_cadyn_units(s.get(), false);
    return s;
}

// The SI part of the installed database: its prefixes, base, derived and accepted units (minute, hour, litre,
// ...), without udunits2-common.xml, the 222 other units (furlong, calorie, degC's aliases, ...) that take four
// fifths of the ~5.7 ms UDUNITS-2 spends reading the whole database, a large part of a short `cadyn run`
// (docs/performance.md, "Start-up"). Read from an XML file in memory (memfd) that imports the installed files by
// their absolute paths. nullptr where that is not possible (UDUNITS2_XML_PATH set: the user's database is read
// whole; no memfd; files missing): the whole database is read instead.
system_ptr read_subset_database() {
    ut_status status = UT_SUCCESS;
    const char* const path = ut_get_path_xml(nullptr, &status);
    if (path == nullptr || status != UT_OPEN_DEFAULT) {
        return nullptr;
    }
    const auto folder = std::filesystem::path(path).parent_path();
    std::string xml = "<?xml version=\"1.0\" encoding=\"US-ASCII\"?>\n<unit-system>\n";
    for (const char* part: {"udunits2-prefixes.xml", "udunits2-base.xml", "udunits2-derived.xml",
                            "udunits2-accepted.xml"}) {
        const auto file = folder / part;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec) || file.string().find_first_of("<>&") != std::string::npos) {
            return nullptr;
        }
        xml += fmt::format("<import>{}</import>\n", file.string());
    }
    xml += "</unit-system>\n";
    auto& known = systems();
    std::vector<std::string> common;
    known.prefixes.clear();
    if (!xml_identifiers(folder / "udunits2-common.xml", {"symbol", "singular", "plural"}, common) ||
        !xml_identifiers(folder / "udunits2-prefixes.xml", {"name", "symbol"}, known.prefixes)) {
        return nullptr;
    }
    known.common = std::unordered_set<std::string>(common.begin(), common.end());
    const int fd = ::memfd_create("cadyn-units.xml", MFD_CLOEXEC);
    if (fd < 0) {
        return nullptr;
    }
    system_ptr s;
    if (::write(fd, xml.data(), xml.size()) == static_cast<ssize_t>(xml.size())) {
        s.reset(ut_read_xml(fmt::format("/proc/self/fd/{}", fd).c_str()));
    }
    ::close(fd);
    if (s) {
        try {
            add_cadyn_units(s.get(), true);
        }
        catch (const unit_error&) {
            return nullptr;  // the whole database instead
        }
        // The subset defines these two as the whole database does (add_cadyn_units).
        known.common.erase("degC");
        known.common.erase("celsius");
    }
    return s;
}


// The process-wide unit system: the subset, loaded on first use, until a unit is not in it; from then on the whole
// database. Call with udunits_mutex held.
ut_system* unit_system() {
    auto& s = systems();
    if (s.current == nullptr) {
        ut_set_error_message_handler(ut_ignore);
        s.subset = read_subset_database();
        if (!s.subset) {
            s.full = read_full_database();
        }
        s.current = s.subset ? s.subset.get() : s.full.get();
    }
    return s.current;
}

// Thrown by try_parse when a unit is not in the subset and the whole database has just become the current system:
// the units the call parsed so far belong to the subset, so with_units() runs the call again from the start.
struct whole_database_loaded {};

// Runs `f` with udunits_mutex held; once more when it met a unit outside the subset.
template <class F>
auto with_units(F&& f) {
    const std::lock_guard lock{udunits_mutex};
    try {
        return f();
    }
    catch (const whole_database_loaded&) {
        return f();
    }
}

// nullptr when `unit` is not a known unit. Call with udunits_mutex held.
unit_ptr try_parse(std::string_view unit) {
    const auto trimmed = trim(unit);
    if (trimmed.empty() || has_numeric_factor(trimmed)) {
        return nullptr;
    }
    // "5 /s": UDUNITS needs "1/s".
    const std::string text = trimmed.front() == '/' ? fmt::format("1{}", trimmed) : std::string{trimmed};
    ut_system* const system = unit_system();
    auto& s = systems();
    const bool in_subset = system == s.subset.get();
    const bool common = in_subset && names_common_unit(s, text);
    unit_ptr u{common ? nullptr : ut_parse(system, text.c_str(), UT_ASCII)};
    if (!u && in_subset && (common || ut_get_status() == UT_UNKNOWN)) {
        s.full = read_full_database();
        s.current = s.full.get();
        throw whole_database_loaded{};
    }
    return u;
}

// Throws naming `unit` and, when not empty, the quantity text it came from. Call with udunits_mutex held.
unit_ptr parse(std::string_view unit, std::string_view whole = {}) {
    auto u = try_parse(unit);
    if (!u) {
        const auto context = whole.empty() ? std::string{} : fmt::format(" in '{}'", whole);
        if (has_numeric_factor(trim(unit))) {
            throw unit_error(fmt::format("unexpected number inside unit '{}'{}; write one number, then the unit",
                                         trim(unit), context));
        }
        throw unit_error(fmt::format("unknown unit '{}'{}", trim(unit), context));
    }
    return u;
}

// The canonical unit of `d`; one that does not parse is a bug in the dimension table. Call with udunits_mutex held.
unit_ptr parse_canonical(const dimension& d) {
    auto u = try_parse(d.canonical);
    if (!u) {
        throw internal_error(fmt::format("canonical unit '{}' of {} does not parse", d.canonical, d.name));
    }
    return u;
}

// UDUNITS also converts between reciprocal units ("5 s^-1" to 200 ms); the same dimension needs more: a
// dimensionless quotient. Call with udunits_mutex held.
bool same_dimension(const ut_unit* a, const ut_unit* b) {
    if (ut_are_convertible(a, b) == 0) {
        return false;
    }
    const unit_ptr quotient{ut_divide(a, b)};
    return quotient && ut_is_dimensionless(quotient.get()) != 0;
}

double convert_units(double value, ut_unit* from, ut_unit* to) {
    const converter_ptr c{ut_get_converter(from, to)};
    if (!c) {
        throw internal_error("UDUNITS-2 gave no converter between convertible units");
    }
    return cv_convert_double(c.get(), value);
}

// Call with udunits_mutex held.
const dimension* dimension_of_unit(ut_unit* u) {
    for (const dimension* d: dims::all()) {
        const auto canonical = parse_canonical(*d);
        if (same_dimension(u, canonical.get())) {
            return d;
        }
    }
    return nullptr;
}

// The unit of `u`'s dimension in cadyn's coherent system, built from UDUNITS' definition of `u` in SI base
// units ("m2.kg.s-4.A-1" for mV/ms) by replacing each base unit with its canonical counterpart: m -> um,
// s -> ms, kg -> ng, A -> pA, mol -> zmol (K, cd stay; rad, sr are dimensionless). Call with udunits_mutex held.
std::string coherent_unit_of(ut_unit* u) {
    char buffer[256];
    const int n = ut_format(u, buffer, sizeof buffer, UT_ASCII | UT_DEFINITION);
    if (n < 0 || static_cast<std::size_t>(n) >= sizeof buffer) {
        throw unit_error("cannot express the unit in SI base units");
    }
    static const std::pair<std::string_view, std::string_view> base[] = {
        {"m", "um"}, {"s", "ms"}, {"kg", "ng"}, {"A", "pA"}, {"mol", "zmol"}, {"K", "K"}, {"cd", "cd"},
        {"rad", ""}, {"sr", ""},
    };
    std::string out;
    std::string_view def(buffer, static_cast<std::size_t>(n));
    if (def.find('@') != std::string_view::npos) {
        throw unit_error("a unit with an offset (such as degC) is accepted only for a temperature");
    }
    // Tokens separated by spaces; the first may be a numeric factor.
    std::size_t pos = 0;
    while (pos < def.size()) {
        auto end = def.find(' ', pos);
        if (end == std::string_view::npos) {
            end = def.size();
        }
        const auto token = def.substr(pos, end - pos);
        pos = end + 1;
        if (token.empty() || is_digit(token.front()) || token.front() == '-' || token.front() == '.') {
            continue;  // the factor
        }
        std::size_t start = 0;
        while (start < token.size()) {
            auto dot = token.find('.', start);
            if (dot == std::string_view::npos) {
                dot = token.size();
            }
            const auto piece = token.substr(start, dot - start);
            start = dot + 1;
            std::size_t k = 0;
            while (k < piece.size() && is_alpha(piece[k])) {
                ++k;
            }
            const auto symbol = piece.substr(0, k);
            const auto exponent = piece.substr(k);
            std::string_view mapped;
            bool known = false;
            for (const auto& [si, ours]: base) {
                if (si == symbol) {
                    mapped = ours;
                    known = true;
                }
            }
            if (!known) {
                throw unit_error(fmt::format("unexpected base unit '{}' in '{}'", symbol, def));
            }
            if (!mapped.empty()) {
                out += fmt::format("{}{}{}", out.empty() ? "" : " ", mapped, exponent.empty() ? "" : "^");
                out += exponent;
            }
        }
    }
    return out.empty() ? "1" : out;
}

} // namespace

const std::vector<const dimension*>& dims::all() {
    static const std::vector<const dimension*> list{
        &dimensionless, &concentration, &time, &rate, &length, &area, &volume, &amount, &potential, &current,
        &temperature, &concentration_rate, &second_order_rate, &diffusivity, &flux, &flux_density, &permeability,
        &molar_energy,
    };
    return list;
}

quantity_text split_quantity(std::string_view text) {
    const auto s = trim(text);
    if (s.empty()) {
        throw unit_error("empty quantity: expected a number followed by a unit, e.g. '0.2 uM'");
    }
    // std::from_chars takes no leading '+'.
    const bool plus = s.front() == '+';
    const char* first = s.data() + (plus ? 1 : 0);
    const char* last = s.data() + s.size();
    double value = 0;
    const auto [end, ec] = std::from_chars(first, last, value);
    if (ec == std::errc::result_out_of_range) {
        throw unit_error(fmt::format("number out of range in '{}'", s));
    }
    if (ec != std::errc{} || (plus && first != last && *first == '-')) {
        throw unit_error(fmt::format("'{}' does not start with a number", s));
    }
    if (!std::isfinite(value)) {
        throw unit_error(fmt::format("'{}' does not start with a finite number", s));
    }
    return {value, std::string{trim(std::string_view(end, static_cast<std::size_t>(last - end)))}};
}

double to_canonical(std::string_view text, const dimension& expected) {
    const auto q = split_quantity(text);
    const auto shown = trim(text);
    if (q.unit.empty()) {
        if (expected.canonical == "1") {
            return q.value;
        }
        throw unit_error(fmt::format("missing unit: {}; got '{}'", expectation(expected), shown));
    }
    const double value = with_units([&] {
        const auto from = parse(q.unit, shown);
        const auto to = parse_canonical(expected);
        if (!same_dimension(from.get(), to.get())) {
            if (const dimension* d = dimension_of_unit(from.get())) {
                throw unit_error(fmt::format("'{}' is {}; {}", shown, with_article(d->name), expectation(expected)));
            }
            throw unit_error(fmt::format("'{}' has unit '{}', which is none of cadyn's dimensions; {}", shown,
                                         q.unit, expectation(expected)));
        }
        return convert_units(q.value, from.get(), to.get());
    });
    if (!std::isfinite(value)) {
        throw unit_error(fmt::format("'{}' is out of range in {}", shown, expected.canonical));
    }
    return value;
}

double convert(double value, std::string_view from_unit, std::string_view to_unit) {
    return with_units([&] {
        const auto from = parse(from_unit);
        const auto to = parse(to_unit);
        if (!same_dimension(from.get(), to.get())) {
            throw unit_error(fmt::format("cannot convert '{}' to '{}'", trim(from_unit), trim(to_unit)));
        }
        return convert_units(value, from.get(), to.get());
    });
}

bool has_dimension(std::string_view unit, const dimension& d) {
    return with_units([&] {
        const auto u = try_parse(unit);
        const auto canonical = parse_canonical(d);
        return u && same_dimension(u.get(), canonical.get());
    });
}

coherent_quantity to_coherent(std::string_view text) {
    const auto q = split_quantity(text);
    if (q.unit.empty()) {
        return {q.value, "1"};
    }
    const auto* named = dimension_of(q.unit);
    if (named != nullptr) {
        return {to_canonical(text, *named), std::string(named->canonical)};
    }
    auto result = with_units([&] {
        const auto from = parse(q.unit, trim(text));
        auto unit = coherent_unit_of(from.get());
        const auto to = parse(unit);
        return coherent_quantity{convert_units(q.value, from.get(), to.get()), std::move(unit)};
    });
    if (!std::isfinite(result.value)) {
        throw unit_error(fmt::format("'{}' is out of range in {}", trim(text), result.unit));
    }
    return result;
}

const dimension* dimension_of(std::string_view unit) {
    return with_units([&]() -> const dimension* {
        const auto u = try_parse(unit);
        return u ? dimension_of_unit(u.get()) : nullptr;
    });
}

unit_database loaded_unit_database() {
    const std::lock_guard lock{udunits_mutex};
    const auto& s = systems();
    if (s.current == nullptr) {
        return unit_database::none;
    }
    return s.current == s.subset.get() ? unit_database::subset : unit_database::full;
}

} // namespace cadyn
