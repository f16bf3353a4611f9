#include "buffer/gap_runs.hpp"

#include <algorithm>

namespace mb::buffer {

std::optional<seq_run> gap_runs::add(const limit_row& r) {
    ++per_device_[r.device];
    std::optional<seq_run> done;
    if (const auto it = runs_.find(r.device); it != runs_.end()) {
        auto& run = it->second;
        if (run.to_seq + 1 == r.seq) {
            run.to_seq = r.seq;
            run.from_ts = std::min(run.from_ts, r.ts); // the clock stepped back
            run.to_ts = std::max(run.to_ts, r.ts);
            return std::nullopt;
        }
        done = run;
    }
    runs_[r.device] = seq_run{r.device, r.seq, r.seq, r.ts, r.ts};
    return done;
}

std::vector<seq_run> gap_runs::open_runs() const {
    std::vector<seq_run> out;
    out.reserve(runs_.size());
    for (const auto& [device, run] : runs_)
        out.push_back(run);
    return out;
}

} // namespace mb::buffer
