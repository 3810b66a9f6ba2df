from .navigation import menu_for
from .scoping import writes_anywhere


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_menu": menu_for(user, request.path), "user_writes": not user.is_business or writes_anywhere(user)}
