"""Forward passes every training stage and objective shares: a batch moved to the model's device, and its loss."""

import torch


def forward(model: torch.nn.Module, batch: dict[str, torch.Tensor], **kwargs):
    device = next(model.parameters()).device
    return model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device), **kwargs)


def labels_on(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return batch["labels"].to(next(model.parameters()).device)


def causal_lm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's own next-token loss on the batch's labels (prompt tokens masked by the batch)."""
    device = next(model.parameters()).device
    return model(**{key: value.to(device) for key, value in batch.items()}).loss
