from django import template

register = template.Library()


@register.filter
def zip_columns(values, columns):
    return zip(columns, values, strict=True)


@register.simple_tag(takes_context=True)
def described_history(context, rows):
    """``{% described_history history as rows %}``: change-log rows for the history tab."""
    from qunli.core.history import describe

    return describe(rows or [], context["request"].user)
