"""Pydantic models shared by the routes."""

from pydantic import BaseModel


class UserIn(BaseModel):
    name: str
    email: str


class User(BaseModel):
    id: int
    name: str
    email: str
