"""Write a model card for a trained model directory and upload it to the Hugging Face Hub.

    python -m training.push --model checkpoints --repo-id USER/NAME [--private] [--card-only]

`model_card` builds README.md offline with `agegender.card` (the card `push_to_hub` makes too: corpora and
licences, per-corpus test metrics, the exact training command); only `upload` needs the network (and a token).
"""

import argparse
from pathlib import Path

import agegender.card


def model_card(model_dir: str | Path, repo_id: str = "USER/agegender-mamcnn") -> str:
    """README.md text for `model_dir`: the same card `AgeGenderClassifier.push_to_hub` uploads."""
    return str(agegender.card.model_card(model_dir, repo_id))


def write_card(model_dir: str | Path, repo_id: str = "USER/agegender-mamcnn") -> Path:
    path = Path(model_dir) / "README.md"
    path.write_text(model_card(model_dir, repo_id))
    return path


def upload(model_dir: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload the whole directory (weights, config, card, metrics, figures). Needs the network."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    skip = ["state.pt", "log.csv", "*.log"]
    return str(api.upload_folder(repo_id=repo_id, folder_path=str(model_dir), ignore_patterns=skip,
                                 commit_message="Upload agegender model"))  # fmt: skip


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="trained model directory")
    ap.add_argument("--repo-id", required=True, help="USER/NAME on the Hub")
    ap.add_argument("--private", action="store_true")
    ap.add_argument("--card-only", action="store_true", help="write README.md and stop (offline)")
    args = ap.parse_args(argv)
    print(f"wrote {write_card(args.model, args.repo_id)}")
    if not args.card_only:
        print(f"uploaded: {upload(args.model, args.repo_id, args.private)}")


if __name__ == "__main__":
    main()
