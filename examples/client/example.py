"""Drive the generated client (``generate.py`` first): register, sign in, read yourself,
create an item.

    python examples/client/example.py http://localhost:5000
"""

from __future__ import annotations

import sys
import uuid

from myproject_client import AuthenticatedClient, Client
from myproject_client.api.auth import post_auth_token
from myproject_client.api.items import post_api_items
from myproject_client.api.users import get_api_users_user_id, post_api_users
from myproject_client.models import ItemCreate, Login, Token, User, UserCreate, UserPublic


def main(api: str) -> None:
    anonymous = Client(base_url=api, raise_on_unexpected_status=True)
    name = f"client{uuid.uuid4().hex[:8]}"
    password = "correct-horse-42"
    created = post_api_users.sync(
        client=anonymous,
        body=UserCreate(username=name, email=f"{name}@example.com", password=password),
    )
    assert isinstance(created, User)
    token = post_auth_token.sync(client=anonymous, body=Login(username=name, password=password))
    assert isinstance(token, Token)
    signed_in = AuthenticatedClient(
        base_url=api, token=token.access_token, raise_on_unexpected_status=True
    )

    # Read as yourself: the private User, with the email. Anyone else gets a UserPublic.
    me = get_api_users_user_id.sync(client=signed_in, user_id=created.id)
    assert isinstance(me, User) and me.email == f"{name}@example.com"
    assert isinstance(get_api_users_user_id.sync(client=anonymous, user_id=me.id), UserPublic)

    item = post_api_items.sync(client=signed_in, body=ItemCreate(name="Lamp"))
    assert item is not None and item.name == "Lamp"
    print(f"signed in as {me.username} (user {me.id}), created item {item.id}")


if __name__ == "__main__":
    main((sys.argv[1] if len(sys.argv) > 1 else "http://localhost:5000").rstrip("/"))
