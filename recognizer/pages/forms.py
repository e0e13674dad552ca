from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from recognizer.inference.errors import shown
from recognizer.inference.imaging import ACCEPTED_DESCRIPTION
from recognizer.inference.pipeline import DEFAULT_TOP_K, MAX_TOP_K
from recognizer.inference.registry import ModelStatus


def option_label(status: ModelStatus) -> str:
    """`ResNet50`, or `ResNet50 (unavailable: no weights offline)`: the full advice is on the About page."""
    if status.usable:
        return status.label
    return f"{status.label} ({status.summary})"


class EchoingChoiceMixin:
    """An invalid choice's message quotes what arrived, cut to about 100 characters (`%(value)s`)."""

    error_messages: dict[str, str]

    def validate(self, value: Any) -> None:
        try:
            super().validate(value)  # type: ignore[misc]
        except ValidationError as error:
            if error.code != "invalid_choice":
                raise
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": shown(str(value))}
            ) from None


class EchoingChoiceField(EchoingChoiceMixin, forms.ChoiceField):
    pass


class EchoingTypedChoiceField(EchoingChoiceMixin, forms.TypedChoiceField):
    pass


class ModelSelect(forms.Select):
    """A dropdown whose models that cannot be used now are shown, disabled, with their state."""

    def __init__(self, *args: Any, disabled_values: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disabled_values = set(disabled_values)

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        if str(value) in self.disabled_values:
            option["attrs"]["disabled"] = True
        return option


class UploadForm(forms.Form):
    image = forms.FileField(
        label="Image",
        help_text=f"{ACCEPTED_DESCRIPTION}; the whole image is resized to the model's input size.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif,image/bmp"}),
        error_messages={
            "required": "Expected an image file in the 'image' field. Received nothing",
            "empty": f"Expected an image file ({ACCEPTED_DESCRIPTION}). Received an empty file (0 bytes)",
        },
    )
    model = EchoingChoiceField(label="Model")
    top_k = EchoingTypedChoiceField(
        label="Classes shown",
        help_text="How many of the most likely classes to list (top k).",
        choices=[(k, str(k)) for k in range(1, MAX_TOP_K + 1)],
        coerce=int,
        required=False,
        empty_value=DEFAULT_TOP_K,
        initial=DEFAULT_TOP_K,
        error_messages={
            "invalid_choice": f"Expected top_k to be a whole number from 1 to {MAX_TOP_K}. Received %(value)s"
        },
    )

    def __init__(
        self,
        *args: Any,
        statuses: Sequence[ModelStatus],
        default_model: str | None,
        custom: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        """`custom`: the ready custom models this browser may use (its own and public ones), after the catalogue."""
        super().__init__(*args, **kwargs)
        offer_models(self.fields["model"], statuses=statuses, custom=custom, default_model=default_model)


def offer_models(
    field: forms.ChoiceField,
    *,
    statuses: Sequence[ModelStatus],
    custom: Sequence[str],
    default_model: str | None,
    received: str = "%(value)s",
) -> None:
    """Make `field` a model dropdown: the catalogue (a model that cannot run shown, disabled), then the custom
    models given; a value outside them is refused naming them all (`received`: how the value is shown)."""
    field.choices = [(status.name, option_label(status)) for status in statuses] + [
        (name, f"{name} (custom)") for name in custom
    ]
    field.widget = ModelSelect(
        choices=field.choices, disabled_values=[status.name for status in statuses if not status.usable]
    )
    field.initial = default_model
    names = ", ".join([*(status.name for status in statuses), *custom])
    field.error_messages["invalid_choice"] = f"Expected one of {names}. Received: {received}"


class CompareForm(forms.Form):
    """One image for every ready model (the compare page)."""

    image = UploadForm.base_fields["image"]
