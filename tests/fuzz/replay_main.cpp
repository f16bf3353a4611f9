// Without libFuzzer (g++ builds) each fuzz target runs as a regression test: every file of
// its corpus, then a fixed number of pseudo-random inputs from a fixed seed, so the run is
// repeatable and a crash found once is found again.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    std::size_t files = 0;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(argv[i], ec)) {
            std::ifstream in(entry.path(), std::ios::binary);
            std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
            LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
            ++files;
        }
    }
    std::mt19937 rng(20261125);
    std::uniform_int_distribution<int> len(0, 512);
    std::uniform_int_distribution<int> byte(0, 255);
    constexpr int random_inputs = 20000;
    for (int n = 0; n < random_inputs; ++n) {
        std::vector<std::uint8_t> bytes(static_cast<std::size_t>(len(rng)));
        for (auto& b : bytes)
            b = static_cast<std::uint8_t>(byte(rng));
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    }
    std::printf("replayed %zu corpus files and %d random inputs\n", files, random_inputs);
    return 0;
}
